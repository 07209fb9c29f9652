"""The key footer: it fits the terminal (keys give way by priority), and it is rebuilt once per
burst of binding changes, and only when its keys changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # the key widget Footer itself composes

if TYPE_CHECKING:
    from textual.binding import Binding
    from textual.screen import Screen

KEPT_LAST = ("help",)
"""Actions the footer drops last: `?` lists every key, so it is always there."""
NAVIGATION = ("go",)
"""Actions dropped after the screen's own keys: the number keys (1–4) name the screens."""


class KeyFooter(Footer):
    """Textual's ``Footer``, fitted to its width, rebuilt only when what it shows differs.

    Fitting: at 80 columns a screen has more keys than room. Rather than cut the line (the
    end, "? Hel", was lost first), keys give way in this order: the command palette's ^p, then
    the screen's own keys from the last one up (each screen lists its keys most used first),
    then the number keys; `?` Help stays, and the help screen lists every key.

    Rebuilding: ``Footer`` recomposes every key after each ``bindings_updated`` signal, and a
    screen sends several in a row as it mounts, takes focus and learns the store is ready: four
    or five full rebuilds (a hundred styled widgets, ~20 ms each) before the first rows were
    drawn, mostly to show the very same keys again. Here the signals of one refresh share one
    check, and the keys are rebuilt only when the visible bindings (key, action, label,
    enabled) or the width changed.
    """

    _shown: tuple[Any, ...] | None = None
    _check_pending = False

    def __init__(self, *, compact: bool = True, **kwargs: Any) -> None:
        # Compact (one space between keys) unless asked otherwise: more keys fit at 80 columns.
        super().__init__(compact=compact, **kwargs)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        if not self._check_pending:
            self._check_pending = True
            self.call_after_refresh(self._rebuild_if_changed)

    def on_resize(self) -> None:
        if self._bindings_ready and not self._check_pending:
            self._check_pending = True
            self.call_after_refresh(self._rebuild_if_changed)

    def _visible_keys(self) -> tuple[Any, ...]:
        return (self._width(), *(
            (binding.key, binding.action, binding.description, enabled, tooltip)
            for (_node, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show
        ))

    def _width(self) -> int:
        return self.size.width or self.app.size.width

    async def _rebuild_if_changed(self) -> None:
        self._check_pending = False
        shown = self._visible_keys()
        if shown != self._shown:
            self._shown = shown
            await self.recompose()

    # --- fitting ----------------------------------------------------------------------------

    def _key_width(self, binding: Binding) -> int:
        """Cells one key takes: its key, a space, its label, and the space between keys."""
        text = f"{self.app.get_key_display(binding)} {binding.description}"
        return cell_len(text) + (1 if self.compact else 2)

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        active = self.screen.active_bindings
        keys: list[tuple[Binding, bool, str]] = []
        seen_actions: set[str] = set()
        for _node, binding, enabled, tooltip in active.values():
            if binding.show and binding.action not in seen_actions:
                seen_actions.add(binding.action)
                keys.append((binding, enabled, tooltip))
        room = self._width() - (0 if self.compact else 1)
        needed = sum(self._key_width(binding) for binding, _e, _t in keys)
        palette: tuple[Binding, bool, str] | None = None
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            entry = active.get(self.app.COMMAND_PALETTE_BINDING)
            if entry is not None:
                palette = (entry[1], entry[2], entry[3])
                if needed + self._key_width(entry[1]) + 1 > room:
                    palette = None
        for level in (0, 1):
            for index in range(len(keys) - 1, -1, -1):
                if needed <= room:
                    break
                binding = keys[index][0]
                name = binding.action.split("(")[0].removeprefix("app.")
                if (level == 0 and name in (*NAVIGATION, *KEPT_LAST)) or name in KEPT_LAST:
                    continue
                needed -= self._key_width(binding)
                del keys[index]
        self.styles.grid_size_columns = len(keys) + (1 if palette else 0)
        for binding, enabled, tooltip in keys:
            yield FooterKey(
                binding.key, self.app.get_key_display(binding), binding.description,
                binding.action, disabled=not enabled, tooltip=tooltip,
            ).data_bind(compact=Footer.compact)
        if palette is not None:
            binding, enabled, tooltip = palette
            yield FooterKey(
                binding.key, self.app.get_key_display(binding), binding.description,
                binding.action, classes="-command-palette", disabled=not enabled,
                tooltip=binding.tooltip or binding.description,
            )
