"""One step of the state machine as it is built: the new facts and the actions asked for.

`runtime/machine.py`'s handlers change the facts and ask for actions only through a `Step`;
`Step.move` is the one place a state changes (checked against `states.TRANSITIONS` and
reported), and `terminate` the one place a stop signal is decided.
"""

from __future__ import annotations

from typing import Any

from orchestra.config.values import signal_name
from orchestra.runtime import events as ev
from orchestra.runtime.facts import Facts, Given
from orchestra.runtime.states import State, check_transition


class Step:
    """The new facts and the actions of one step, built up by the
    handlers of `runtime/machine.py`."""

    def __init__(self, facts: Facts, given: Given) -> None:
        self.facts = facts
        self.given = given
        self.actions: list[ev.Action] = []

    def set(self, **changes: Any) -> None:
        self.facts = self.facts._replace(**changes)

    def say(self, text: str, event: str, *, json_only: bool = False, **fields: object) -> None:
        self.actions.append(ev.Report(text, event, tuple(fields.items()), json_only))

    def move(self, target: State, message: str | None, **fields: object) -> None:
        """The one place a state changes; `message` None: reported in JSON output only."""
        check_transition(self.facts.state, target)
        self.set(state=target)
        self.say(message or target.value, target.value, json_only=message is None, **fields)

    def finish(self) -> None:
        self.set(finished=True)
        self.actions.append(ev.Finish())

    def terminate(self) -> None:
        """Stop signal to the running group, SIGKILL after the timeout. After the leader
        exited, clean-up owns the group: it got (or gets) its one stop signal there, and the
        run ends as its exit said, not as "stopped"."""
        facts = self.facts
        if facts.state is not State.RUNNING or facts.pid is None or facts.exit_seen:
            return
        sig, now, timeout = self.given.service.stop_signal, self.given.now, self.given.stop_timeout
        self.move(State.STOPPING, f"sending {signal_name(sig)} to process group {facts.pid}",
                  signal=signal_name(sig))
        self.set(signalled_at=now, kill_at=now + timeout)
        if facts.ready:   # going away: a dependent started now would find it gone
            self.set(ready=False, ready_reason="not ready: being stopped")
        self.actions += [ev.SignalGroup(facts.pid, sig), ev.ArmKillTimer(facts.run, timeout)]

    def hasten_kill(self) -> None:
        """A stop asked for again with a shorter stop timeout in force (`down -t 1` while a
        service stops with its own 30 s): SIGKILL comes at the earlier of the two times.
        Also while clean-up waits for what is left in the group of a leader that exited
        (the timer then ends that wait: `KillLeftovers`)."""
        facts, now, timeout = self.facts, self.given.now, self.given.stop_timeout
        under_way = facts.state is State.STOPPING or facts.exit_seen
        if not under_way or facts.pid is None or facts.kill_at is None \
                or now + timeout >= facts.kill_at:
            return
        self.set(kill_at=now + timeout)
        self.actions.append(ev.ArmKillTimer(facts.run, timeout,
                                            after=now + timeout - facts.signalled_at))
