"""Actor-critic on gymnasium's CartPole-v1, as pytorch/examples'
reinforcement_learning/actor_critic.py writes it: one hidden layer of 128 shared by an action
head (softmax, actions drawn from a ``Categorical``) and a value head; at the end of each
episode the policy loss weights each log-probability by its advantage (normalised return minus
the critic's value) and the critic learns the returns with a smooth L1 loss; Adam. It prints
the running reward every --log-interval episodes and stops once it passes the environment's
reward threshold (475) or after --episodes, then writes the reward curve to --out
(./outputs by default, which git ignores).

The default seed is 1, not the original's 543: with its learning rate of 3e-2 the policy
sometimes collapses to always pushing one way and never recovers, and seed 543 is such a run
here (with PyTorch itself that seed had not solved it after 1000 episodes either); seed 1
solves it in 542 episodes, seed 3 in 703.

    pip install ".[examples,rl]"      # tqdm, matplotlib, gymnasium
    python examples/actor_critic_cartpole.py [--seed 1] [--episodes 1000] [--out DIR]
"""

import argparse
import os
import time
from collections import namedtuple
from itertools import count

import gymnasium as gym
import numpy as np
from tqdm import tqdm

import rgrad as torch
import rgrad.nn as nn
import rgrad.nn.functional as F
import rgrad.optim as optim
from rgrad.distributions import Categorical

SavedAction = namedtuple("SavedAction", ["log_prob", "value"])


class Policy(nn.Module):
    """Actor and critic in one model: the action probabilities and the state's value."""

    def __init__(self):
        super().__init__()
        self.affine1 = nn.Linear(4, 128)
        self.action_head = nn.Linear(128, 2)  # actor
        self.value_head = nn.Linear(128, 1)  # critic
        self.saved_actions = []
        self.rewards = []

    def forward(self, x):
        x = F.relu(self.affine1(x))
        action_prob = F.softmax(self.action_head(x), dim=-1)
        state_values = self.value_head(x)
        return action_prob, state_values


def select_action(model, state):
    state = torch.from_numpy(state).float()
    probs, state_value = model(state)
    m = Categorical(probs)
    action = m.sample()
    model.saved_actions.append(SavedAction(m.log_prob(action), state_value))
    return action.item()


def finish_episode(model, optimizer, gamma, eps):
    R = 0
    policy_losses = []  # the actor's loss
    value_losses = []  # the critic's loss
    returns = []
    for r in model.rewards[::-1]:
        R = r + gamma * R
        returns.insert(0, R)
    returns = torch.tensor(returns)
    returns = (returns - returns.mean()) / (returns.std() + eps)
    for (log_prob, value), R in zip(model.saved_actions, returns):
        advantage = R - value.item()
        policy_losses.append(-log_prob * advantage)
        value_losses.append(F.smooth_l1_loss(value, torch.tensor([R])))
    optimizer.zero_grad()
    loss = torch.stack(policy_losses).sum() + torch.stack(value_losses).sum()
    loss.backward()
    optimizer.step()
    del model.rewards[:]
    del model.saved_actions[:]
    return loss.item()


def plot_rewards(rewards, running, threshold, path, title):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no reward curve")
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(1, len(rewards) + 1), rewards, alpha=0.4, label="episode reward")
    ax.plot(range(1, len(running) + 1), running, label="running reward")
    ax.axhline(threshold, color="gray", linestyle="--", label=f"threshold {threshold:g}")
    ax.set(xlabel="episode", ylabel="reward", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"reward curve written to {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gamma", type=float, default=0.99, help="discount factor")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--episodes", type=int, default=1000, help="stop after this many")
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--out", default="outputs", help="default: ./outputs")
    args = parser.parse_args()

    env = gym.make("CartPole-v1")
    env.reset(seed=args.seed)
    torch.manual_seed(args.seed)
    model = Policy()
    optimizer = optim.Adam(model.parameters(), lr=3e-2)
    eps = np.finfo(np.float32).eps.item()
    threshold = env.spec.reward_threshold

    running_reward = 10
    rewards, running = [], []
    start = time.perf_counter()
    bar = tqdm(total=args.episodes, desc="episodes")
    for i_episode in count(1):
        state, _ = env.reset()
        ep_reward = 0
        for t in range(1, 10000):  # noqa: B007 (t: the episode length, printed when solved)
            action = select_action(model, state)
            state, reward, terminated, truncated, _ = env.step(action)
            model.rewards.append(reward)
            ep_reward += reward
            if terminated or truncated:
                break
        running_reward = 0.05 * ep_reward + (1 - 0.05) * running_reward
        loss = finish_episode(model, optimizer, args.gamma, eps)
        rewards.append(ep_reward)
        running.append(running_reward)
        bar.update()
        bar.set_postfix(running=f"{running_reward:.1f}", loss=f"{loss:.2f}")
        if i_episode % args.log_interval == 0:
            tqdm.write(
                f"Episode {i_episode}\tLast reward: {ep_reward:.2f}\t"
                f"Average reward: {running_reward:.2f}"
            )
        if running_reward > threshold:
            tqdm.write(
                f"Solved! Running reward is now {running_reward:.2f} and "
                f"the last episode runs to {t} time steps!"
            )
            break
        if i_episode >= args.episodes:
            break
    bar.close()
    minutes = (time.perf_counter() - start) / 60
    print(f"{i_episode} episodes in {minutes:.1f} min; running reward {running_reward:.2f}")

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "actor_critic_cartpole.png")
    plot_rewards(rewards, running, threshold, path, "actor-critic on CartPole-v1")


if __name__ == "__main__":
    main()
