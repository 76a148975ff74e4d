"""One generate request for the CLI, the server and batch rendering (issue 19): checked once,
with the protocol's bounds, each error one line; its protocol form, generate()'s keywords
and its takes' names."""
import inspect

import pytest

from blender_addon.core import protocol as P
from blender_addon.core.requests import GenerateRequest, RequestError


def test_a_request_is_checked_once_with_the_protocols_bounds():
    asked = GenerateRequest(prompt="thank you", seed=3.0, guidance=2, sampler="ddpm")
    assert asked.seed == 3 and isinstance(asked.seed, int) and asked.guidance == 2.0   # the protocol's forms
    for kwargs, said in (({"prompt": "x", "seconds": 1.0, "frames": 20}, "give 'seconds' or 'frames', not both"),
                         ({"prompt": "x", "steps": 500}, "parameter 'steps' must be at most 100; got 500"),
                         ({"prompt": "x", "sampler": "euler"}, "parameter 'sampler' must be one of 'ddim', 'ddpm'"),
                         ({"prompt": "  "}, "the prompt is empty"),
                         ({}, "give a prompt or an image")):
        with pytest.raises(RequestError) as caught:
            GenerateRequest(**kwargs)
        assert str(caught.value).startswith(said) and "\n" not in str(caught.value)
        assert caught.value.code == P.INVALID_PARAMS
    assert GenerateRequest(image="hand.png").prompt is None   # an image needs no prompt
    with pytest.raises(RequestError) as caught:   # a command line names its options
        GenerateRequest(prompt="x", seconds=1.0, frames=20, sampler="ddim")
    assert caught.value.as_options() == "give --seconds or --frames, not both"


def test_protocol_params_and_generate_keywords_round_trip():
    from backend.generate import generate

    asked = GenerateRequest(prompt="thank you", seed=3, num=2, sampler="ddpm", run="/runs/a")
    params = asked.params("/out")
    assert params["sampler"] == "ddpm" and params["out_dir"] == "/out" and "seconds" not in params
    assert P.check_params("generate", params)["sampler"] == "ddpm"   # the protocol takes what the request sends
    again, out_dir = GenerateRequest.from_params(params)
    assert again == asked and out_dir == "/out"
    keywords = asked.arguments()
    assert set(keywords) <= set(inspect.signature(generate).parameters)   # every field reaches generate()
    assert keywords["text"] == "thank you" and keywords["run_dir"] == "/runs/a" and keywords["sampler"] == "ddpm"
    assert asked.file_names() == ["thank-you-s3-1.npz", "thank-you-s3-2.npz"]
    assert GenerateRequest(prompt="Thank you!", seed=3).file_names() == ["thank-you-s3.npz"]
