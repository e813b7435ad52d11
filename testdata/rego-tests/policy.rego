# Rego v0 policy under test.
package demo

default allow = false

allow {
	input.user == "admin"
}

allow {
	is_weekday
	input.user == data.demo_config.on_call
}

is_weekday {
	day := time.weekday(time.now_ns())
	not day == "Saturday"
	not day == "Sunday"
}

greeting(name) = msg {
	msg := sprintf("hello %s", [name])
}

deny[msg] {
	input.replicas < 2
	msg := greeting(input.owner)
}
