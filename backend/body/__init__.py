"""SMPL-X body layer: skeleton tables, rotations, features, mannequin, provider, sites."""
