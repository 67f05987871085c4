"""The stack as cross-resource rules read it: its graph, its keys and its principals."""
