# Rego v1 tests of the v0 policy: both dialects side by side.
package demo

import rego.v1

test_admin_allowed if allow with input as {"user": "admin"}

test_guest_denied if not allow with input as {"user": "guest"}

# Mocks data and a builtin.
test_on_call_on_a_weekday if {
	allow with input as {"user": "sam"}
		with data.demo_config.on_call as "sam"
		with time.now_ns as 1700000000000000000
}

test_on_call_on_sunday if {
	not allow with input as {"user": "sam"}
		with data.demo_config.on_call as "sam"
		with time.now_ns as 1700352000000000000
}

mock_greeting(name) := "mocked"

# Mocks a function.
test_function_mock if {
	deny == {"mocked"} with input as {"replicas": 1, "owner": "x"} with greeting as mock_greeting
}

test_print_and_fail if {
	print("replicas checked:", count(deny))
	count(deny) == 1 with input as {"replicas": 3, "owner": "x"}
}

test_duplicate if true

test_duplicate if false

conflict := 1 if input.x

conflict := 2 if input.x

test_runtime_error if conflict == 1 with input as {"x": true}

todo_test_later if false
