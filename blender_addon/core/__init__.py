"""The bpy-free half of the extension: protocol, backend client, keyframe maths."""
