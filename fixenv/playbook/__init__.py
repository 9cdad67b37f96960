"""Declarative playbooks: YAML in, validated Playbook out (see loader.py)."""
