"""Measures of motion that see what a viewer sees (which hand, place, contact, movement,
handshape, speed), as small pure functions over a ``Motion`` and a ``Body``. numpy; never bpy."""
