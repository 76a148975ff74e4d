"""Text and image encoders for conditioning (MiniLM offline by default; CLIP when its weights exist)."""
from .encoders import ClipEncoder, Encoded, EncoderError, MiniLMEncoder, TextEncoder, load_text_encoder

__all__ = ["ClipEncoder", "Encoded", "EncoderError", "MiniLMEncoder", "TextEncoder", "load_text_encoder"]
