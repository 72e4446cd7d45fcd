"""The Dataloop REST client: the only package that imports `requests`.

    ApiSession      one `requests.Session` per retry policy, error mapping, paging (transport.py)
    WsgiTransport   a requests transport adapter that calls a WSGI app in-process (wsgi.py)
    RestBackend     the `reconciler.backend.Backend` over the REST API, plus the imperative
                    operations (execute, executions, statistics) (rest.py)
    ApiResolver     the caching name -> id `Resolver` over dtlpy's own lookup routes (resolver.py)

The same client serves the real Dataloop, `loopform serve`, and the embedded control plane (the
latter through `WsgiTransport`); there is no second client.
"""

from reconciler.client.resolver import ApiResolver
from reconciler.client.rest import RestBackend
from reconciler.client.transport import ApiSession, ClientOptions, options_from_env
from reconciler.client.wsgi import WsgiTransport

__all__ = ["ApiResolver", "ApiSession", "ClientOptions", "RestBackend", "WsgiTransport", "options_from_env"]
