"""The warnings of libraries we use that say nothing to our users, hidden at their source.

Each filter names one message of one library; any other warning still shows. Feast's modules
run `warnings.simplefilter("once", DeprecationWarning)` when imported, which shows every
library's deprecation warnings (Python hides them outside `__main__`) and goes in front of
earlier filters: whoever imports Feast calls `quiet()` again after that import.
"""

from __future__ import annotations

import warnings


def quiet() -> None:
    """Install the filters (idempotent: the warnings module drops duplicates)."""
    # bentoml 1.4 builds its ignore-file matcher with pathspec's old pattern name "gitwildmatch"
    # when imported; pathspec only renamed that style, its behaviour is unchanged.
    warnings.filterwarnings(
        "ignore", r"GitWildMatchPattern \('gitwildmatch'\) is deprecated", DeprecationWarning,
        module=r"pathspec\.",
    )  # fmt: skip
    # evidently 0.7 patches `numpy.core.numeric.ScalarType` when imported; numpy keeps
    # `numpy.core` working as an alias of `numpy._core`.
    warnings.filterwarnings(
        "ignore", r"numpy\.core is deprecated", DeprecationWarning, module=r"evidently\."
    )
    # evidently's UI (imported by `import evidently`, never started here) declares litestar
    # dependencies with the API litestar 2.23 deprecated for 3.0.
    warnings.filterwarnings(
        "ignore", r"(Call to|Use of) deprecated (function|class) '(Dependency|DependencyKwarg)'",
        DeprecationWarning, module=r"litestar\.",
    )  # fmt: skip
    # bentoml 1.4's request handler reads `model_fields` on the request model's instance,
    # which pydantic 2.11 deprecated (it works until pydantic 3): once per server, on stderr.
    warnings.filterwarnings(
        "ignore", r"Accessing the 'model_fields' attribute on the instance is deprecated",
        DeprecationWarning, module=r"_bentoml_impl\.",
    )  # fmt: skip
