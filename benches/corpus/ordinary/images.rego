package main

import rego.v1

allowed_registries := {"registry.example.com", "ghcr.io"}

allowed_image(image) if image_registry(image) in allowed_registries

allowed_image(image) if startswith(image, "registry.example.com/")

# The loopback registry of the tests and benchmarks.
allowed_image(image) if startswith(image, "127.0.0.1:")

deny contains msg if {
	some c in containers
	image_tag(c.image) == "latest"
	msg := sprintf("%s: container %s uses the latest tag", [kind_name, c.name])
}

deny contains msg if {
	some c in containers
	not allowed_image(c.image)
	msg := sprintf("%s: image %s is not from an allowed registry", [kind_name, c.image])
}

warn contains msg if {
	some c in containers
	not c.imagePullPolicy
	msg := sprintf("%s: container %s has no imagePullPolicy", [kind_name, c.name])
}
