"""The Argo Workflows compiler: a flow to a WorkflowTemplate (typed hera models)."""
