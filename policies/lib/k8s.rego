package policyctl.lib.k8s
