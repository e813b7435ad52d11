package main

import rego.v1

warn contains sprintf("%s %s checked", [input.kind, input.metadata.name]) if input.kind
