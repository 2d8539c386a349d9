"""The Argo Workflows compiler: a flow to a WorkflowTemplate (typed hera models).

``compile_flow(flow_cls, graph, options, settings) -> Manifests`` builds the
documents of a deployment, ``trigger_workflow`` the Workflow a trigger submits,
``workflow_name`` the deployment's name. Modules: ``settings`` (what a
deployment is compiled with), ``naming``, ``parameters``, ``containers`` (one
container template per step, ``templateDefaults``), ``dag`` (DAGs, foreach
batches, switches), ``metadata`` (labels, annotations), ``limits`` (Argo's size
limits), ``lint`` (the semantic checks), ``manifests`` (serialisation).
"""

from grange.deploy.argo.compiler import compile_flow
from grange.deploy.argo.manifests import Manifests
from grange.deploy.argo.naming import workflow_name
from grange.deploy.argo.settings import ArgoSettings
from grange.deploy.argo.trigger import trigger_workflow

__all__ = ["ArgoSettings", "Manifests", "compile_flow", "trigger_workflow", "workflow_name"]
