"""grange's command line, built with click; commands stay thin: parse, call a layer, print.

    python flow.py [--debug] [--quiet] [--datastore-root PATH] [--metadata URL]
                   [--with DECORATOR ...] [--namespace NAME] COMMAND [ARGS]
        check                   lint the flow (the default command)
        show [--json|--mermaid|--dot]
        output-dot              same as show --dot
        help, version
    grange [--version] [--debug] [--quiet] COMMAND FLOW_FILE [--flow NAME] [ARGS]
        check FLOW_FILE, show FLOW_FILE [--json|--mermaid|--dot]

Modules: ``flow`` (a flow's group, started by ``FlowSpec()``), ``main`` (the
``grange`` script), ``commands`` (one module per verb and the registry),
``context`` (settings and the flow a command works on), ``errors`` (messages
and exit codes instead of tracebacks), ``params`` (flow parameters as options),
``loader`` (flows loaded from a file). Nothing here is imported by
``import grange``.
"""
