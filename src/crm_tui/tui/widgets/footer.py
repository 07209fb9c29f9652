"""The key footer, rebuilt once per burst of binding changes, and only when its keys changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.widgets import Footer

if TYPE_CHECKING:
    from textual.screen import Screen


class KeyFooter(Footer):
    """Textual's ``Footer``, rebuilt only when what it shows differs.

    ``Footer`` recomposes every key after each ``bindings_updated`` signal, and a screen sends
    several in a row as it mounts, takes focus and learns the store is ready: four or five full
    rebuilds (a hundred styled widgets, ~20 ms each) before the first rows were drawn, mostly to
    show the very same keys again. Here the signals of one refresh share one check, and the
    keys are rebuilt only when the visible bindings (key, action, label, enabled) changed.
    """

    _shown: tuple[Any, ...] | None = None
    _check_pending = False

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        if not self._check_pending:
            self._check_pending = True
            self.call_after_refresh(self._rebuild_if_changed)

    def _visible_keys(self) -> tuple[Any, ...]:
        return tuple(
            (binding.key, binding.action, binding.description, enabled, tooltip)
            for (_node, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show
        )

    async def _rebuild_if_changed(self) -> None:
        self._check_pending = False
        shown = self._visible_keys()
        if shown != self._shown:
            self._shown = shown
            await self.recompose()
