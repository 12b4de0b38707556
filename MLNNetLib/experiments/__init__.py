"""Experiments built from the library's parts: the paper's ablation (Table 3) and the README demo."""
