"""The Ray actors behind RayBackend: created to plan, followed through restarts, resized as the
cluster changes, stopped on shutdown. The Supervisor's counterpart for Ray (pool.Workers).

Runs on the event loop thread. Ray tells us what happens through object refs we await:
- `ready()` answers once an incarnation of the actor has its handler warm (Ready or StartFailed);
- `lifeline()` never returns, so its error is the death of the actor, busy or idle; Ray then
  restarts it (`max_restarts=-1`) and we wait for `ready()` again;
- `run(job)` streams the job's messages; its first item says the actor took the job, so a job
  whose actor was already dead goes back to the queue instead of failing. An actor runs up to
  `ActorPlan.dreams` of them at once (a threaded actor), like a local worker's jobs.
Cancel is `ray.cancel` on that job's stream (the handler stops at its next step); an actor still on
the job after the grace is killed with `ray.kill(no_restart=False)` and comes back fresh. Whenever
an actor dies, the jobs it held are handled as a local worker's are: one it had begun is run again
once (`retry_crashed`) or fails (WorkerCrashed), one it never began goes back to the queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import ActorDiedError, RayActorError, TaskCancelledError

from dreamcore.config import EngineConfig, PoolConfig
from dreamcore.errors import DreamCancelled, DreamError, WorkerCrashed
from dreamcore.pool.holder import JobHolder, most_room, places_of
from dreamcore.pool.jobs import Job
from dreamcore.pool.messages import Failed, JobMessage, Progress, Ready, Run, StartFailed
from dreamcore.pool.ray_actor import CONTROL_GROUP, CONTROL_THREADS, DreamActor
from dreamcore.pool.ray_plan import ActorPlan, ClusterView, plan_actors
from dreamcore.pool.timers import backoff_s, cancel_timer, retrieve_exception
from dreamcore.pool.worker import generic_error

log = logging.getLogger(__name__)
WATCH_S = 1.0  # how often the cluster's size is read (a cheap GCS call, off the loop)
ASK_AGAIN_S = 0.2  # a restarting actor is asked again this often
STRAGGLERS_S = 30.0  # start() waits this long after the first actor is up for the rest to be placed


@dataclass(eq=False)
class Actor(JobHolder):
    """One actor, as WorkerPool sees a worker: up to `capacity` jobs at once (JobHolder), each a
    `run` stream of its own."""

    fleet: ActorFleet
    handle: Any  # ray.actor.ActorHandle
    plan: ActorPlan
    ready: asyncio.Future[None]  # its first start
    dead: asyncio.Future[None]  # gone for good
    pid: int = 0
    node: str = ""
    life: int = 0  # bumped at each death noticed: stale callbacks compare it
    streams: dict[str, Any] = field(default_factory=dict)  # each held job's ObjectRefGenerator
    taken: dict[str, int] = field(default_factory=dict)  # job id -> pid of the incarnation on it
    timer: asyncio.TimerHandle | None = None  # a delayed restart
    retiring: bool = False
    failures: int = 0  # starts that failed in a row
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def take(self, job: Job, run: Run) -> None:
        self.fleet.take(self, job, run)

    def release(self, job: Job) -> None:
        super().release(job)
        self.streams.pop(job.id, None)
        self.taken.pop(job.id, None)
        if self.retiring and not self.jobs:
            self.fleet.retired(self)

    def drop_all(self) -> list[Job]:
        self.streams, self.taken = {}, {}
        return super().drop_all()


class ActorFleet:
    def __init__(
        self,
        config: PoolConfig,
        engine: EngineConfig,
        handler: str,
        *,
        on_ready: Callable[[Actor], None],
        on_message: Callable[[Actor, JobMessage], None],
        on_died: Callable[[Actor, Job | None, int | None], None],
        on_lost: Callable[[Actor, Job | None], None],
    ) -> None:
        self.config, self.engine, self.handler = config, engine, handler
        self._on_ready, self._on_message = on_ready, on_message
        self._on_died, self._on_lost = on_died, on_lost
        self.slots: list[Actor] = []  # the planned actors, oldest first
        self.workers: set[Actor] = set()  # every actor not gone yet (retiring ones too)
        self.restarts = 0
        self.replacing = False  # from a successful start until shutdown
        self.closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._remote: Any = None
        self._watch: asyncio.Task[None] | None = None

    # --- queries ----------------------------------------------------------------------------------

    def available(self) -> Actor | None:
        """The planned actor with the most room (least loaded first), or None when all are full."""
        return most_room(self.slots)

    def places(self) -> int:
        """Jobs the planned actors that are up can hold at once (a retiring one takes no more)."""
        return places_of(self.slots)

    def running(self, job: Job) -> Actor | None:
        return next((a for a in self.workers if a.holds(job)), None)

    def count(self, *states: str) -> int:
        return sum(a.state in states for a in self.workers)

    def pids(self) -> list[int]:
        return sorted(a.pid for a in self.workers if a.up)

    def nodes(self) -> dict[str, dict[str, int]]:
        """Actors up and busy on each Ray node (node id -> counts)."""
        view: dict[str, dict[str, int]] = {}
        for a in self.workers:
            if a.up:
                row = view.setdefault(a.node, {"alive": 0, "busy": 0})
                row["alive"] += 1
                row["busy"] += a.state == "busy"
        return view

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the planned actors and wait until each is warm; raise if none is."""
        self._loop = asyncio.get_running_loop()
        # Ray's overloads of remote() leave out options it takes (concurrency_groups among them)
        groups = {CONTROL_GROUP: CONTROL_THREADS}
        remote = ray.remote(concurrency_groups=groups)  # type: ignore[call-overload]
        self._remote = remote(DreamActor)
        plan = plan_actors(self.config, self.engine, await _look())
        first = [self._add(plan) for _ in range(plan.count)]
        limit = self.config.start_timeout_s
        await _wait_first_then_some([a.ready for a in first], limit, STRAGGLERS_S)
        if not self.count("idle", "busy"):
            errors = [a.ready.exception() for a in first if a.ready.done()]
            raise next((e for e in errors if e is not None), None) or WorkerCrashed(
                f"No Ray actor was ready within {limit:g} s: does the cluster have room for "
                f"{plan.count} actor(s) of {plan.gpus:g} GPU and {plan.cpus:g} CPU?"
            )
        self.replacing = True
        for a in first:
            if a.ready.done() and a.ready.exception() is not None:
                self._restart_later(a)  # the others are up: keep trying this one, with backoff
        if waiting := sum(not a.ready.done() for a in first):
            log.warning("%d dream actor(s) still wait for room in the Ray cluster", waiting)
        self._watch = self._loop.create_task(self._watch_cluster())

    async def shutdown(self, grace: float) -> None:
        """Kill every actor (WorkerPool has already let running jobs finish) and wait until Ray
        reports each one gone, `grace` at most."""
        self.replacing, self.closed = False, True
        if self._watch is not None:
            self._watch.cancel()
        for a in list(self.workers):
            cancel_timer(a.timer)
            _kill(a.handle, restart=False)
        tasks = [t for a in self.workers for t in a.tasks]
        if tasks:
            await asyncio.wait(tasks, timeout=max(grace, 1.0))
        for a in list(self.workers):
            self._gone(a)

    def stop_job(self, actor: Actor, job: Job) -> None:
        """Cancel the job's stream (the actor's other jobs go on); kill (and so restart) the actor
        if it is still on the job after the grace."""
        stream = actor.streams.get(job.id)
        if stream is not None:
            _cancel(stream)
        grace = self.config.cancel_grace_s
        actor.kill_unless_dropped(job, grace, lambda: self._kill_stuck(actor, job))

    def _kill_stuck(self, actor: Actor, job: Job) -> None:
        others = [j for j in actor.jobs.values() if j is not job]
        log.warning(
            "dream actor %d ignored a cancel of %s: killed, it restarts (with it: %s)",
            actor.pid,
            job,
            others,
        )
        _kill(actor.handle, restart=True)

    # --- jobs -------------------------------------------------------------------------------------

    def take(self, actor: Actor, job: Job, run: Run) -> None:
        actor.hold(job)
        stream = actor.handle.run.options(num_returns="streaming").remote(run)
        actor.streams[job.id] = stream
        self._spawn(actor, self._follow_job(actor, actor.life, job, stream))

    async def _follow_job(self, actor: Actor, life: int, job: Job, stream: Any) -> None:
        def current() -> bool:
            return actor.life == life and actor.holds(job)

        try:
            async for ref in stream:
                msg = await ref
                if not current():  # the fleet took the actor for dead: it must not keep a thread
                    _cancel(stream)
                    return
                if isinstance(msg, Ready):
                    actor.taken[job.id] = msg.pid
                    if msg.pid != actor.pid:  # Ray restarted it before telling us of the death
                        actor.pid = job.worker_pid = msg.pid  # the old one's lifeline will tell
                    continue
                self._on_message(actor, msg)
                if not isinstance(msg, Progress):
                    return
            ended: DreamError = DreamError(f"The dream worker ended job {job.id} without a result.")
        except TaskCancelledError:  # after ray.cancel, once the handler has stopped: free again
            ended = DreamCancelled("The dream was cancelled.")
        except RayActorError:
            if not current():  # already handled with the rest of the actor's jobs
                return
            pid = actor.taken.get(job.id)
            if pid is not None and pid != actor.pid:
                self._lose_jobs_of(actor, pid)  # an earlier incarnation's: the newer one goes on
            else:
                self._died(actor, life)
            return
        except Exception as err:  # e.g. a result that would not deserialize here
            log.exception("dream actor %d: job %s", actor.pid, job.id)
            ended = generic_error(job.id, err)
        if current():
            self._on_message(actor, Failed.of(job.id, ended))

    # --- actors -----------------------------------------------------------------------------------

    def _add(self, plan: ActorPlan) -> Actor:
        assert self._loop is not None
        engine = self.engine.model_copy(update={"device": plan.device})
        handle = self._remote.options(
            num_cpus=plan.cpus,
            num_gpus=plan.gpus,
            max_restarts=-1,
            max_task_retries=0,
            max_concurrency=plan.dreams,  # the default group: the jobs' run() calls
        ).remote(self.handler, engine, self.config, plan.threads)
        loop = self._loop
        actor = Actor(
            self, handle, plan, loop.create_future(), loop.create_future(), capacity=plan.dreams
        )
        actor.ready.add_done_callback(retrieve_exception)
        self.slots.append(actor)
        self.workers.add(actor)
        self._spawn(actor, self._bring_up(actor, actor.life))
        return actor

    async def _bring_up(self, actor: Actor, life: int) -> None:
        """Wait for this incarnation's ready(); then watch its lifeline."""
        while True:
            try:
                state, node = await actor.handle.ready.options(
                    concurrency_group=CONTROL_GROUP
                ).remote()
                break
            except ActorDiedError:  # a fresh call to a dead actor: it will not come back
                if actor.life == life:
                    self._gone(actor)
                    self._on_died(actor, None, None)
                return
            except RayActorError:  # restarting, or waiting for a node with room
                await asyncio.sleep(ASK_AGAIN_S)
            except Exception:  # not the actor's death: say so, and ask again more slowly
                log.warning("dream actor: ready() failed", exc_info=True)
                await asyncio.sleep(1.0)
            if actor.life != life or actor.state == "dead":
                return
        if actor.life != life or actor.state == "dead":
            return
        pid = state.pid if isinstance(state, Ready) else None
        self._spawn(actor, self._follow_lifeline(actor, life, pid))
        match state:
            case Ready(pid=pid):
                actor.pid, actor.node, actor.state, actor.failures = pid, node, "idle", 0
                if not actor.ready.done():
                    actor.ready.set_result(None)
                self._on_ready(actor)
            case StartFailed(message=message):
                log.warning("dream actor on node %s could not start: %s", node[:8], message)
                if not actor.ready.done():
                    actor.ready.set_exception(state.error())
                if self.replacing:
                    self._restart_later(actor)

    async def _follow_lifeline(self, actor: Actor, life: int, pid: int | None) -> None:
        try:
            await actor.handle.lifeline.options(concurrency_group=CONTROL_GROUP).remote()
        except RayActorError:
            pass
        except Exception:
            log.exception("dream actor %d: lifeline", actor.pid)
        self._died(actor, life, pid)

    def _died(self, actor: Actor, life: int, pid: int | None = None) -> None:
        """The incarnation with `pid` (None: the current one) is gone; Ray restarts the actor
        unless we stopped it."""
        if actor.life != life or actor.state == "dead":
            return
        if pid is not None and pid != actor.pid:
            # An earlier incarnation: Ray had restarted the actor, and the new one took a job
            # before Ray told us the old one died. Only what the old one had begun is lost; watch
            # the new one instead.
            self._lose_jobs_of(actor, pid)
            self.restarts += self.replacing
            self._spawn(actor, self._follow_lifeline(actor, life, actor.pid))
            return
        actor.life += 1
        was_up = actor.up
        taken = set(actor.taken)
        spared = actor.spared  # killed for a stuck cancel: the jobs beside it run again
        held = actor.drop_all()
        actor.state = "starting"
        cancel_timer(actor.timer)
        if self.closed or actor.retiring:
            self._gone(actor)
        elif self.replacing:
            self.restarts += 1
            if was_up:
                log.warning("dream actor %d died holding %s; Ray restarts it", actor.pid, held)
        # As a local worker's death: a job it had begun crashed (the pool runs it again once, or
        # fails it); one it never began runs elsewhere, first in line.
        for job in held:
            if job.id in taken and not spared:
                self._on_died(actor, job, None)
            else:
                self._on_lost(actor, job)
        if not held:
            self._on_died(actor, None, None)  # the pool counts who is alive
        if actor.state != "dead":
            self._spawn(actor, self._bring_up(actor, actor.life))

    def _lose_jobs_of(self, actor: Actor, pid: int) -> None:
        """The jobs an earlier incarnation `pid` had begun died with it (as after a crash, or
        run again if we killed it for a stuck cancel)."""
        lost = [actor.jobs[job_id] for job_id, by in actor.taken.items() if by == pid]
        spared, actor.spared = actor.spared, False
        for job in lost:
            actor.release(job)
            if spared:
                self._on_lost(actor, job)
            else:
                self._on_died(actor, job, None)

    def _restart_later(self, actor: Actor) -> None:
        assert self._loop is not None
        actor.failures += 1
        cancel_timer(actor.timer)
        actor.timer = self._loop.call_later(
            backoff_s(actor.failures), self._restart, actor, actor.life
        )

    def _restart(self, actor: Actor, life: int) -> None:
        if self.replacing and actor.life == life and actor.state == "starting":
            _kill(actor.handle, restart=True)  # the lifeline reports it; ready() follows

    def _retire(self, actor: Actor) -> None:
        self.slots.remove(actor)
        actor.retiring = True
        if actor.state != "busy":  # a busy one goes when its last job is released
            self.retired(actor)

    def retired(self, actor: Actor) -> None:
        """A retiring actor holds no more jobs: it goes."""
        self._gone(actor)  # kills it
        self._on_died(actor, None, None)  # not a crash; the pool counts who is alive

    def _gone(self, actor: Actor) -> None:
        if actor.state == "dead":
            return
        actor.state = "dead"
        actor.drop_all()
        actor.life += 1
        cancel_timer(actor.timer)
        _kill(actor.handle, restart=False)  # make sure: an actor we forget must not hold a GPU
        self.workers.discard(actor)
        if actor in self.slots:
            self.slots.remove(actor)
        if not actor.ready.done():
            actor.ready.set_exception(WorkerCrashed("A dream actor ended while starting."))
        if not actor.dead.done():
            actor.dead.set_result(None)
        current = asyncio.current_task()
        for task in list(actor.tasks):
            if task is not current:
                task.cancel()

    # --- the cluster changes ----------------------------------------------------------------------

    async def _watch_cluster(self) -> None:
        while True:
            await asyncio.sleep(WATCH_S)
            try:
                plan = plan_actors(self.config, self.engine, await _look())
            except DreamError:
                continue  # e.g. device cuda and no GPU left: keep the actors waiting for one
            except Exception:
                log.warning("could not read the Ray cluster's resources", exc_info=True)
                continue
            self.resize(plan)

    def resize(self, plan: ActorPlan) -> None:
        """Match the actors to `plan`: retire the surplus (not-up first, then idle, busy ones after
        their job) and add what is missing."""
        same = [a for a in self.slots if a.plan.kind == plan.kind]
        surplus = [a for a in self.slots if a.plan.kind != plan.kind]
        order = ("starting", "idle", "busy")
        surplus += sorted(same, key=lambda a: order.index(a.state))[
            : max(0, len(same) - plan.count)
        ]
        for actor in surplus:
            self._retire(actor)
        added = [self._add(plan) for _ in range(plan.count - len(same))]
        if surplus or added:
            log.info(
                "Ray cluster changed: %d dream actor(s) added, %d retired; %d planned",
                len(added),
                len(surplus),
                plan.count,
            )

    def _spawn(self, actor: Actor, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        assert self._loop is not None
        task = self._loop.create_task(coro)
        actor.tasks.add(task)
        task.add_done_callback(actor.tasks.discard)
        task.add_done_callback(_log_failure)
        return task


async def _look() -> ClusterView:
    return await asyncio.to_thread(look_at_cluster)


def look_at_cluster() -> ClusterView:
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return ClusterView(
        gpus=sum(n["Resources"].get("GPU", 0.0) for n in nodes),
        max_node_cpus=max((n["Resources"].get("CPU", 0.0) for n in nodes), default=0.0),
    )


async def _wait_first_then_some(
    futures: list[asyncio.Future[None]], limit: float, stragglers: float
) -> None:
    """Until every future is done, or `limit` passed, or `stragglers` after the first success
    (an actor Ray cannot place yet must not hold the bot's start for the whole start timeout)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    pending = set(futures)
    while pending and (left := deadline - loop.time()) > 0:
        _, pending = await asyncio.wait(pending, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        if any(f.done() and f.exception() is None for f in futures):
            deadline = min(deadline, loop.time() + stragglers)


def _cancel(stream: Any) -> None:
    try:
        ray.cancel(stream)
    except Exception:  # already finished: the stream tells
        log.debug("ray.cancel on a finished stream", exc_info=True)


def _kill(handle: Any, *, restart: bool) -> None:
    try:
        ray.kill(handle, no_restart=not restart)
    except Exception:  # already gone, or Ray itself is shutting down
        log.debug("ray.kill", exc_info=True)


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("dream actor fleet: %s failed", task.get_name(), exc_info=task.exception())
