"""The `reviewflow` commands, one module per family; `reviewflow.cli` registers them on its root group.

Each command parses its arguments, calls one method of the `Reviewflow` façade and renders the result.
"""

import reviewflow.cli  # noqa: F401  (the root group and the shared options load first, whichever module is imported)
