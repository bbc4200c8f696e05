"""Internet Explorer as a Gymnasium environment (see :class:`ie_env.env.InternetExplorerEnv`)."""
import os

# Spinning OpenMP threads slow torch ~5x when the two cores are shared (measured on the learner): wait passively.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from gymnasium.envs.registration import register, registry

from ie_env.env import EnvConfig

if "InternetExplorer-v0" not in registry:
    register(id="InternetExplorer-v0", entry_point="ie_env.env:InternetExplorerEnv",
             max_episode_steps=EnvConfig.budget, nondeterministic=False)
if "InternetExplorerLive-v0" not in registry:
    register(id="InternetExplorerLive-v0", entry_point="ie_env.live_env:InternetExplorerLiveEnv",
             max_episode_steps=EnvConfig.budget, nondeterministic=True)
