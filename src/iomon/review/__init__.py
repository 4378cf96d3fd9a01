"""``iomon review``: review a case in the browser and sign it off.

A local server (:mod:`.server`, Starlette on uvicorn, loopback only, a token in the address)
shows one case (:mod:`.session`: read and conditioned once, reanalysed on every edit) in a
page whose scripts ship in the package (``static/``: the page, and uPlot, MIT). Every edit is
a line of the case sidecar (:mod:`.edits`); sign-off writes the outputs as ``iomon analyze``
does.
"""

__all__ = ["ReviewSession", "serve"]


def __getattr__(name):
    if name == "ReviewSession":
        from .session import ReviewSession

        return ReviewSession
    if name == "serve":
        from .server import serve

        return serve
    raise AttributeError(name)
