"""Internet Explorer as a Gymnasium environment (see :class:`ie_env.envs.env.InternetExplorerEnv`).

The sub-packages follow the loop in the order data flows, and each imports only the ones listed before it:

- ``data``: what the loop starts from: the WordNet vocabulary, concept-text embeddings, target datasets,
  the real-photo shards and the ground truth used for measurement;
- ``web``: search engines (one module per live back-end) and the fetch stage (connection safety, the HTTP JSON
  client the engines share, image processing, the download scheduler);
- ``learning``: what happens to downloaded images: rewards, the self-supervised learner and its backbone and
  augmentations, the frozen encoder, evaluation, and the scorer that ties them to an iteration;
- ``envs``: the Gymnasium environments that wire the stages (the offline worlds of :mod:`offline_cache` below
  them, the live web);
- ``run``: on top of the envs and :mod:`agents`: one episode with checkpoints, the comparison of agents over
  seeds, option parsing and the ``ie-explore`` command line.

Small shared values sit at the top: ``types`` (the dataclasses passed between stages), ``suites`` (the benchmark's
task table, whose tasks are registered here as Gymnasium ids), ``paths``, ``atomic``
(crash-safe writes), ``failpoints`` (crash injection for tests) and ``ray_cluster`` (joining Ray, for the stages
that fan out). Scripts in ``experiments/`` import the
library, never the reverse.
"""
import importlib
import importlib.abc
import importlib.util
import os
import sys

# Spinning OpenMP threads slow torch ~5x when the two cores are shared (measured on the learner): wait passively.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from gymnasium.envs.registration import register, registry  # noqa: E402

# No registered TimeLimit: the env truncates itself after its ``budget`` steps, so ``gym.make(id, budget=2048)``
# runs 2048 steps (an explicit ``max_episode_steps=`` still adds a TimeLimit).
if "InternetExplorer-v0" not in registry:
    register(id="InternetExplorer-v0", entry_point="ie_env.envs.env:InternetExplorerEnv",
             max_episode_steps=None, nondeterministic=False)
if "InternetExplorerLive-v0" not in registry:
    register(id="InternetExplorerLive-v0", entry_point="ie_env.envs.live_env:InternetExplorerLiveEnv",
             max_episode_steps=None, nondeterministic=True)

# The benchmark's tasks (ie_env.suites, one table): InternetExplorer/<task>-v<version>, the env as the benchmark runs
# it; gym.make keywords override the task's settings (world=..., budget=...).
from ie_env.suites import all_tasks  # noqa: E402

for _task in all_tasks().values():
    if _task.gym_id not in registry:
        register(id=_task.gym_id, entry_point="ie_env.run.benchmark:make_task_env", kwargs={"task": _task.name},
                 max_episode_steps=None, nondeterministic=False)

MOVED = {
    "ie_env.env": "ie_env.envs.env", "ie_env.live_env": "ie_env.envs.live_env", "ie_env.runner": "ie_env.run.runner",
    "ie_env.cli": "ie_env.run.cli", "ie_env.wrappers": "agents.candidates", "ie_env.vocabulary": "ie_env.data.vocabulary",
    "ie_env.text_embedding": "ie_env.data.text_embedding", "ie_env.targets": "ie_env.data.targets",
    "ie_env.ground_truth": "ie_env.data.ground_truth", "ie_env.search": "ie_env.web.search",
    "ie_env.download": "ie_env.web.download", "ie_env.learner": "ie_env.learning.learner",
    "ie_env.reward": "ie_env.learning.reward", "ie_env.frozen": "ie_env.learning.frozen",
    "ie_env.evaluation": "ie_env.learning.evaluation",
}
"""Module paths before the stage sub-packages (2026-11) -> where they live now; old imports keep working."""


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves ``import ie_env.env`` (an old path) with the module at its new path."""

    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in MOVED else None

    def create_module(self, spec):
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module):
        pass


if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
    sys.meta_path.append(_MovedModules())
