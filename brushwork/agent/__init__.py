"""Learning to paint: the actor/critic networks, the painting environment, model-based DDPG with its
replay buffer, the trained policy for inference (`policy`, imported by the painter), and training.
See docs/method.md, "Agent" and "Training"."""
