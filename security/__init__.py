"""Who is asking and may they: authentication, roles, keys, signing, access evaluation."""
