"""The rig module's per-body cache lives as long as its body (issue 19: no cache keyed by id())."""
import gc

import numpy as np

from backend.body import rig as rig_module
from backend.body.model import Body
from backend.body.rig import Rig


def test_a_body_and_its_rigs_share_one_lifetime(signforge_cache):
    body = Body.load()
    first = Rig.from_body(body, np.full(10, 0.5))
    assert Rig.from_body(body, np.full(10, 0.5)) is first          # the same betas: the cached rig
    assert Rig.from_body(body) is not first                        # other betas: another rig
    other = Body.load()                                            # a second body of the same model
    assert Rig.from_body(other, np.full(10, 0.5)) is not first     # has rigs of its own
    assert np.allclose(Rig.from_body(other, np.full(10, 0.5)).rest_joints, first.rest_joints)
    before = len(rig_module._CACHES)
    del body, first
    gc.collect()
    assert len(rig_module._CACHES) == before - 1                   # collected with its body
