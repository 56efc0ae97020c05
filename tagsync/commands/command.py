"""What makes a function a tagsync command: the run options every command takes (-q, -v,
--log-format, --profile), readable --help metavars, and errors as one line + exit code.

Typer builds options from a function's signature, so :func:`handle_errors` gives each command
a signature with these options added in one place instead of in 14 parameter lists.
"""

from __future__ import annotations

import builtins
import contextvars
import functools
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import (
    Annotated,
    Any,
    ParamSpec,
    TypeVar,
    get_args,
    get_origin,
    overload,
)

import typer
from typer.models import ArgumentInfo, OptionInfo

from tagsync.errors import EXIT_USAGE, LocalError, TagsyncError

__all__ = ["RunOptions", "fail", "handle_errors", "note", "run_options"]

P = ParamSpec("P")
R = TypeVar("R")

QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only warnings and errors on stderr")
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Also print every step on stderr")
]
LogFormatOption = Annotated[
    str, typer.Option("--log-format", help="stderr messages as text, or json (one per line)")
]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile", "-p", help="mdi-v2 or mdi-v3 (see `tagsync profiles`) [default: config]"
    ),
]


@dataclass(frozen=True, slots=True)
class RunOptions:
    """The options of this invocation that are not the command's own business."""

    quiet: bool = False
    verbose: bool = False
    log_format: str = "text"
    profile: str | None = None


_DEFAULT_OPTIONS = RunOptions()
_current: contextvars.ContextVar[RunOptions] = contextvars.ContextVar("tagsync_run_options")

# name -> (annotation, default): added to a command's signature unless it declares the name.
_RUN_OPTIONS: dict[str, tuple[Any, Any]] = {
    "quiet": (QuietOption, False),
    "verbose": (VerboseOption, False),
    "log_format": (LogFormatOption, "text"),
}
_SESSION_OPTIONS: dict[str, tuple[Any, Any]] = {"profile": (ProfileOption, None)}


def run_options() -> RunOptions:
    """This invocation's -q/-v/--log-format/--profile (defaults outside a command)."""
    return _current.get(_DEFAULT_OPTIONS)


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print a one-line error to stderr (or a JSON line) and return the Exit to raise."""
    from tagsync.logs import get_logger

    get_logger().error(message, extra={"event": "failed", "exit_code": code})
    return typer.Exit(code)


def note(message: str) -> None:
    """An informational line on stderr; -q hides it."""
    from tagsync.logs import NOTICE, get_logger

    get_logger().log(NOTICE, message)


def _start_logging(options: RunOptions) -> None:
    from tagsync.logs import LOG_FORMATS, configure

    if options.log_format not in LOG_FORMATS:
        raise typer.BadParameter(
            f"choose one of {', '.join(LOG_FORMATS)}", param_hint="--log-format"
        )
    if options.quiet and options.verbose:
        raise typer.BadParameter("give either --quiet or --verbose, not both")
    configure(verbose=options.verbose, quiet=options.quiet, log_format=options.log_format)


def _metavar(name: str, annotation: Any) -> str:
    """What ``--help`` shows for an option's value: a word, never a Python type."""
    text = str(annotation)
    if name == "out" or name.endswith("_dir") or name == "templates":
        return "DIR"
    if "Path" in text:
        return "FILE"
    if "float" in text or "int" in text:
        return "SECONDS" if "timeout" in name else "N"
    if name == "fmt":
        return "FORMAT"
    return name.upper().removesuffix("S") if name.endswith("tags") else name.upper()


def _described(name: str, annotation: Any) -> Any:
    """``annotation`` with a readable metavar on its typer Option or Argument.

    Set in place, without copying: an option alias (``CloudOption``) is shared by every command
    but always bound to the same parameter name, so the metavar it gets is the same each time;
    copying ~300 parameter infos cost ~10 ms of every start.
    """
    if get_origin(annotation) is not Annotated:
        return annotation
    base, *extras = get_args(annotation)
    if base is bool:
        return annotation
    for item in extras:
        if isinstance(item, OptionInfo) and item.metavar is None:
            item.metavar = _metavar(name, base)
        elif isinstance(item, ArgumentInfo) and item.metavar is None:
            repeated = "list" in str(base)
            item.metavar = f"{_metavar(name, base)}..." if repeated else name.upper()
    return annotation


def _annotations(function: Callable[..., Any]) -> dict[str, Any]:
    """The function's annotations evaluated (the modules use ``from __future__ import
    annotations``). A bare name (``CloudOption``, ``bool``) is looked up instead of compiled:
    typing.get_type_hints compiles every string, ~10 ms over the commands at every start."""
    namespace = function.__globals__
    hints: dict[str, Any] = {}
    for name, annotation in function.__annotations__.items():
        if not isinstance(annotation, str):
            hints[name] = annotation
        elif annotation.isidentifier() and annotation in namespace:
            hints[name] = namespace[annotation]
        elif annotation.isidentifier() and hasattr(builtins, annotation):
            hints[name] = getattr(builtins, annotation)
        else:
            hints[name] = eval(annotation, namespace)  # noqa: S307 - our own source's annotation
    return hints


def _with_options(
    function: Callable[..., Any], wrapper: Callable[..., Any], added: dict[str, tuple[Any, Any]]
) -> None:
    """Give ``wrapper`` the signature Typer reads: the command's own parameters plus ``added``."""
    hints = _annotations(function)
    params = [
        param.replace(annotation=_described(param.name, hints.get(param.name, param.annotation)))
        for param in inspect.signature(function).parameters.values()
    ]
    for name, (annotation, default) in added.items():
        params.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=default,
                annotation=_described(name, annotation),
            )
        )
    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined,unused-ignore]
    wrapper.__annotations__ = {param.name: param.annotation for param in params}


@overload
def handle_errors(function: Callable[P, R]) -> Callable[P, R]: ...
@overload
def handle_errors(*, session: bool = True) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def handle_errors(function: Any = None, *, session: bool = True) -> Any:
    """Make ``function`` a tagsync command: the run options, and errors as one line + exit code.

    Adds ``-q/-v/--log-format`` (and ``--profile`` when ``session``) to every command in one
    place; a command that declares one of these parameters itself receives it as usual. A
    TagsyncError becomes its one-line message and documented exit code: no tracebacks.
    """

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        own = set(inspect.signature(function).parameters)
        wanted = {**_RUN_OPTIONS, **(_SESSION_OPTIONS if session else {})}
        added = {name: spec for name, spec in wanted.items() if name not in own}

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.get(name, spec[1]) for name, spec in wanted.items()}
            for name in added:
                kwargs.pop(name, None)
            options = RunOptions(
                quiet=bool(values["quiet"]),
                verbose=bool(values["verbose"]),
                log_format=str(values["log_format"]).lower(),
                profile=values.get("profile"),
            )
            token = _current.set(options)
            try:
                _start_logging(options)
                return function(*args, **kwargs)
            except TagsyncError as exc:
                raise fail(exc.message, exc.exit_code) from None
            except KeyboardInterrupt:
                raise fail("interrupted", 130) from None
            except BrokenPipeError:
                # `tagsync prefixes | head`: the reader left, which is not an error of ours.
                sys.stderr.close()
                raise typer.Exit(0) from None
            except OSError as exc:
                # The net under every command: a local file system fault the code did not name
                # itself (network errors arrive wrapped as DownloadError) is still one line and
                # exit 6, never a traceback and never 1 ("changed") for cron and systemd.
                local = LocalError.from_os_error(exc)
                raise fail(local.message, local.exit_code) from None
            finally:
                _current.reset(token)

        _with_options(function, wrapper, added)
        return wrapper

    return decorate(function) if function is not None else decorate
