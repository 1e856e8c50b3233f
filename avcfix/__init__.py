"""avcfix: triage SELinux AVC denials and build the policy that fixes them."""

__version__ = "0.1.0"
