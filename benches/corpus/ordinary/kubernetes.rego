# Helpers as most repositories write them: one definition per kind, no else chains, no care
# for how an engine compiles them.
package main

import rego.v1

is_pod if input.kind == "Pod"

is_workload if input.kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}

is_job if input.kind == "Job"

is_cronjob if input.kind == "CronJob"

pod_spec := input.spec if is_pod

pod_spec := input.spec.template.spec if is_workload

pod_spec := input.spec.template.spec if is_job

pod_spec := input.spec.jobTemplate.spec.template.spec if is_cronjob

containers contains c if some c in pod_spec.containers

containers contains c if some c in pod_spec.initContainers

name := input.metadata.name

namespace := input.metadata.namespace

namespace := "default" if not input.metadata.namespace

kind_name := sprintf("%s/%s", [input.kind, name])

image_tag(image) := tag if {
	contains(image, ":")
	parts := split(image, ":")
	tag := parts[count(parts) - 1]
}

image_tag(image) := "latest" if not contains(image, ":")

image_registry(image) := registry if {
	parts := split(image, "/")
	count(parts) > 1
	contains(parts[0], ".")
	registry := parts[0]
}

image_registry(image) := "docker.io" if {
	parts := split(image, "/")
	not contains(parts[0], ".")
}

has_label(key) if input.metadata.labels[key]
