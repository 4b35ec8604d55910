"""How the wizard talks to a person: a small protocol, a real terminal version, a scripted one.

The wizard (``advisor.wizard``) only knows :class:`Prompter`; the CLI builds a
:class:`QuestionaryPrompter` for a terminal, tests build a
:class:`ScriptedPrompter`. Every question carries a stable ``key`` (the
answers-file key, or a wizard step name such as ``address``) so that scripts do
not depend on the wording or the language.

Ctrl-C: questionary's ``ask()`` swallows it and returns None; here every
question uses ``unsafe_ask()`` so that ``KeyboardInterrupt`` reaches
``advisor.cli.main`` (exit 130).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TextIO

# A validator returns None when the text is acceptable, else a one-line error.
Validator = Callable[[str], str | None]
# (value, label) pairs: the value is what the wizard gets back, the label what is shown.
Choices = Sequence[tuple[str, str]]


class Prompter(Protocol):
    """What the wizard needs from a terminal."""

    def text(
        self,
        key: str,
        message: str,
        *,
        default: str = "",
        instruction: str = "",
        validate: Validator | None = None,
    ) -> str: ...

    def select(
        self, key: str, message: str, choices: Choices, *, default: str, instruction: str = ""
    ) -> str: ...

    def checkbox(
        self,
        key: str,
        message: str,
        choices: Choices,
        *,
        default: Sequence[str],
        instruction: str = "",
        validate: Callable[[list[str]], str | None] | None = None,
    ) -> list[str]: ...

    def confirm(self, key: str, message: str, *, default: bool, instruction: str = "") -> bool: ...

    def integer(
        self,
        key: str,
        message: str,
        *,
        default: int,
        instruction: str = "",
        minimum: int = 0,
        maximum: int = 1_000_000,
        validate: Callable[[int], str | None] | None = None,
    ) -> int: ...

    def status(self, line: str) -> None:
        """A progress line between questions (shown only when it changed)."""

    def waiting(self, line: str) -> None:
        """A line rewritten in place while the person waits (cleared by ``say``)."""

    def say(self, text: str = "") -> None:
        """Plain text for the person."""


def integer_error(text: str, minimum: int, maximum: int) -> str | None:
    from advisor.i18n import _

    try:
        value = int(text.strip())
    except ValueError:
        return _("Type a whole number, such as 2.")
    if not minimum <= value <= maximum:
        return _("Type a number from {minimum} to {maximum}.").format(
            minimum=minimum, maximum=maximum
        )
    return None


class QuestionaryPrompter:
    """Questions in a terminal with questionary (imported only here, never by ``--help``)."""

    # Colour: prompt_toolkit (and rich) honour NO_COLOR; --no-color sets it for the process.
    def __init__(self, *, color: bool = True, out: TextIO | None = None) -> None:
        self._color = color
        self._out = out or sys.stdout
        self._last_status = ""
        self._waiting = False

    def _end_waiting(self) -> None:
        if self._waiting:
            self._out.write("\r\x1b[K")
            self._waiting = False

    def text(
        self,
        key: str,
        message: str,
        *,
        default: str = "",
        instruction: str = "",
        validate: Validator | None = None,
    ) -> str:
        import questionary

        self._end_waiting()

        def check(value: str) -> bool | str:
            if validate is None:
                return True
            error = validate(value)
            return True if error is None else error

        if instruction:
            self._dim(instruction)
        answer = questionary.text(
            message,
            validate=check,
            placeholder=_placeholder(default),
            key_bindings=_enter_bindings(default, check),
            # Judged on Enter only: while typing, an unfinished address is no error.
            validate_while_typing=False,
        ).unsafe_ask()
        return str(answer)

    def select(
        self, key: str, message: str, choices: Choices, *, default: str, instruction: str = ""
    ) -> str:
        import questionary

        self._end_waiting()
        items = [questionary.Choice(label, value=value) for value, label in choices]
        chosen = next((c for c in items if c.value == default), None)
        answer = questionary.select(
            message,
            choices=items,
            default=chosen,
            instruction=instruction or " ",
        ).unsafe_ask()
        return str(answer)

    def checkbox(
        self,
        key: str,
        message: str,
        choices: Choices,
        *,
        default: Sequence[str],
        instruction: str = "",
        validate: Callable[[list[str]], str | None] | None = None,
    ) -> list[str]:
        import questionary

        self._end_waiting()
        items = [
            questionary.Choice(label, value=value, checked=value in default)
            for value, label in choices
        ]

        def check(values: list[str]) -> bool | str:
            if validate is None:
                return True
            error = validate(values)
            return True if error is None else error

        answer = questionary.checkbox(
            message,
            choices=items,
            instruction=instruction or " ",
            validate=check,
        ).unsafe_ask()
        return [str(v) for v in answer]

    def confirm(self, key: str, message: str, *, default: bool, instruction: str = "") -> bool:
        self._end_waiting()
        if instruction:
            self._dim(instruction)
        return bool(_confirm_question(message, default).unsafe_ask())

    def integer(
        self,
        key: str,
        message: str,
        *,
        default: int,
        instruction: str = "",
        minimum: int = 0,
        maximum: int = 1_000_000,
        validate: Callable[[int], str | None] | None = None,
    ) -> int:
        def check(text: str) -> str | None:
            error = integer_error(text, minimum, maximum)
            if error is None and validate is not None:
                error = validate(int(text.strip()))
            return error

        return int(
            self.text(
                key, message, default=str(default), instruction=instruction, validate=check
            ).strip()
        )

    def status(self, line: str) -> None:
        if line and line != self._last_status:
            self._last_status = line
            self._end_waiting()
            self._dim(line)

    def waiting(self, line: str) -> None:
        if not self._out.isatty():
            return  # a log or a pipe gets no carriage-return animation
        self._out.write("\r\x1b[K" + line[:79])
        self._out.flush()
        self._waiting = True

    def say(self, text: str = "") -> None:
        from advisor.formats.text import escape_controls

        self._end_waiting()
        # Provider names, warnings and paths come from servers and reports: no raw
        # ESC, C1 control or bidi override ever reaches the terminal.
        self._out.write(_fit(escape_controls(text, keep_lines=True)) + "\n")
        self._out.flush()

    def _dim(self, text: str) -> None:
        if self._color:
            self._out.write(f"\x1b[2m{_fit(text)}\x1b[0m\n")
        else:
            self._out.write(_fit(text) + "\n")
        self._out.flush()


def _confirm_question(message: str, default: bool) -> Any:
    """questionary's yes/no question in the user's language: "(o/N)", o for oui as
    well as y, and "Oui"/"Non" echoed (questionary hard-codes y/n and Yes/No)."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.formatted_text import FormattedText, to_formatted_text
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.keys import Keys
    from questionary import Question
    from questionary.constants import DEFAULT_QUESTION_PREFIX
    from questionary.styles import merge_styles_default

    from advisor.i18n import _

    # Translators: the key for "yes" (o for oui); y is always accepted too.
    yes_key = _("y").strip().lower()[:1] or "y"
    yes_keys = {yes_key, yes_key.upper(), "y", "Y"}
    words = {True: _("Yes"), False: _("No")}
    hint = f"({yes_key.upper()}/n) " if default else f"({yes_key}/N) "
    status: dict[str, bool | None] = {"answer": None}
    done = {"complete": False}

    def tokens() -> Any:
        parts = [("class:qmark", DEFAULT_QUESTION_PREFIX), ("class:question", f" {message} ")]
        if not done["complete"]:
            parts.append(("class:instruction", hint))
        answer = status["answer"]
        if answer is not None:
            parts.append(("class:answer", words[answer]))
        return to_formatted_text(FormattedText(parts))

    bindings = KeyBindings()

    def finish(event: Any) -> None:
        done["complete"] = True
        event.app.exit(result=status["answer"])

    @bindings.add(Keys.ControlQ, eager=True)
    @bindings.add(Keys.ControlC, eager=True)
    def _interrupt(event: Any) -> None:
        event.app.exit(exception=KeyboardInterrupt, style="class:aborting")

    @bindings.add(Keys.Any)
    def _key(event: Any) -> None:
        key = event.data
        if key in yes_keys or key in ("n", "N"):
            status["answer"] = key in yes_keys
            finish(event)
        # any other key is ignored, as questionary does

    @bindings.add(Keys.ControlH)
    def _backspace(event: Any) -> None:
        status["answer"] = None

    @bindings.add(Keys.ControlM, eager=True)
    def _enter(event: Any) -> None:
        if status["answer"] is None:
            status["answer"] = default
        finish(event)

    session: Any = PromptSession(tokens, key_bindings=bindings, style=merge_styles_default([None]))
    return Question(session.app)


def _placeholder(default: str) -> Any:
    from prompt_toolkit.formatted_text import FormattedText

    return FormattedText([("class:instruction", default)]) if default else None


def _enter_bindings(default: str, check: Callable[[str], bool | str]) -> Any:
    """Enter for a text question whose default is shown as a placeholder, not as text
    in the line: typing replaces the default (no "1" + "2" = "12"), Enter on an empty
    line takes it, and a refused answer is cleared so the next try starts empty."""
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.validation import ValidationError

    bindings = KeyBindings()

    @bindings.add("enter")
    def _accept(event: Any) -> None:
        buffer = event.current_buffer
        text = buffer.text if buffer.text.strip() else default
        verdict = check(text)
        if verdict is not True:
            buffer.reset()
            buffer.validation_error = ValidationError(message=str(verdict))
            return
        buffer.text = text
        buffer.validate_and_handle()

    return bindings


def _fit(text: str) -> str:
    """Wrap at word boundaries to the terminal's width, keeping each line's indent
    (the terminal would cut words in two, e.g. at 80 columns)."""
    import shutil
    import textwrap

    width = max(40, shutil.get_terminal_size((80, 24)).columns - 1)
    lines = []
    for line in text.split("\n"):
        if len(line) <= width:
            lines.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip(" -")))
        lines.append(textwrap.fill(line, width=width, subsequent_indent=indent))
    return "\n".join(lines)


class UnexpectedQuestion(AssertionError):
    """A scripted run met a question its script has no answer for."""


DEFAULT = object()  # in a script: accept the question's default


class ScriptedPrompter:
    """Answers from a mapping ``key -> answer`` (or :data:`DEFAULT`); for tests.

    Records the keys asked (``asked``), the status lines (``statuses``) and
    everything said (``said``). A key with no scripted answer raises
    :class:`UnexpectedQuestion`; an answer that fails validation raises too.
    """

    def __init__(
        self, answers: Mapping[str, object], *, on_ask: Callable[[str], None] | None = None
    ) -> None:
        self.answers = dict(answers)
        self.asked: list[str] = []
        self.statuses: list[str] = []
        self.said: list[str] = []
        self._on_ask = on_ask

    def _answer(self, key: str, default: object) -> object:
        self.asked.append(key)
        if self._on_ask is not None:
            self._on_ask(key)
        if key not in self.answers:
            raise UnexpectedQuestion(f"unexpected question {key!r}")
        value = self.answers[key]
        return default if value is DEFAULT else value

    def text(
        self,
        key: str,
        message: str,
        *,
        default: str = "",
        instruction: str = "",
        validate: Validator | None = None,
    ) -> str:
        value = str(self._answer(key, default))
        if validate is not None and (error := validate(value)) is not None:
            raise UnexpectedQuestion(f"{key}: {value!r} refused: {error}")
        return value

    def select(
        self, key: str, message: str, choices: Choices, *, default: str, instruction: str = ""
    ) -> str:
        value = str(self._answer(key, default))
        if value not in [v for v, _label in choices]:
            raise UnexpectedQuestion(f"{key}: {value!r} is not a choice")
        return value

    def checkbox(
        self,
        key: str,
        message: str,
        choices: Choices,
        *,
        default: Sequence[str],
        instruction: str = "",
        validate: Callable[[list[str]], str | None] | None = None,
    ) -> list[str]:
        value = self._answer(key, list(default))
        assert isinstance(value, list | tuple)
        values = [str(v) for v in value]
        if validate is not None and (error := validate(values)) is not None:
            raise UnexpectedQuestion(f"{key}: {values!r} refused: {error}")
        return values

    def confirm(self, key: str, message: str, *, default: bool, instruction: str = "") -> bool:
        return bool(self._answer(key, default))

    def integer(
        self,
        key: str,
        message: str,
        *,
        default: int,
        instruction: str = "",
        minimum: int = 0,
        maximum: int = 1_000_000,
        validate: Callable[[int], str | None] | None = None,
    ) -> int:
        value = self._answer(key, default)
        assert isinstance(value, int)
        error = integer_error(str(value), minimum, maximum)
        if error is None and validate is not None:
            error = validate(value)
        if error is not None:
            raise UnexpectedQuestion(f"{key}: {value!r} refused: {error}")
        return value

    def status(self, line: str) -> None:
        if line and (not self.statuses or self.statuses[-1] != line):
            self.statuses.append(line)

    def waiting(self, line: str) -> None:
        self.statuses.append(line)

    def say(self, text: str = "") -> None:
        self.said.append(text)
