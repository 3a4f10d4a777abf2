"""The model: streaming layers and MixedNet, one network for whole clips and for one slice."""
