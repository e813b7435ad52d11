package main

import rego.v1

# Two different values for one complete rule: an evaluation error, not a verdict.
replicas := 1 if input.kind == "Deployment"

replicas := 2 if input.kind == "Deployment"

deny contains "too few replicas" if replicas < 2
