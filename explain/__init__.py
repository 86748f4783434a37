"""Explanations of cptkb results: justification text rendered with jinja2."""
