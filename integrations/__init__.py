"""Edgewise's built-in integrations: plugins of the ``edgewise.integrations`` entry-point group."""
