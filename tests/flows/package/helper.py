"""A module of the flow's directory: packed with the flow."""


def double(x):
    return 2 * x
