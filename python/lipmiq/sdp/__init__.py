"""LipSDP with per-neuron slopes: the model (`model`), an interior-point solver for its multipliers
(`barrier`) and the float64 certificate of the bound they give (`certify`)."""
