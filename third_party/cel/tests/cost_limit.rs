//! `Context::set_cost_limit`: evaluation stops with `CostLimitExceeded` past the limit, on
//! nested comprehensions too, and each `set_cost_limit` gives a fresh budget.

use cel::{Context, ExecutionError, Program, Value};

#[test]
fn nested_comprehensions_stop_at_the_limit() {
    let program = Program::compile("range.all(x, range.all(y, x + y >= 0))").unwrap();
    let mut context = Context::default();
    context.add_variable_from_value("range", Value::from((0..1000).collect::<Vec<i64>>()));
    context.set_cost_limit(Some(100_000));
    assert_eq!(program.execute(&context), Err(ExecutionError::CostLimitExceeded));
    assert_eq!(context.cost_left(), Some(0));
    // A small input fits, and the budget is spent as the steps are taken.
    let small = Program::compile("[1, 2].all(x, [1, 2].all(y, x + y >= 0))").unwrap();
    context.set_cost_limit(Some(100_000));
    assert_eq!(small.execute(&context), Ok(Value::Bool(true)));
    let left = context.cost_left().unwrap();
    assert!(left < 100_000 && left > 99_000, "{left}");
    // No limit.
    context.set_cost_limit(None);
    assert_eq!(program.execute(&context), Ok(Value::Bool(true)));
}

#[test]
fn a_child_scope_charges_its_root() {
    let program = Program::compile("[1, 2, 3].map(x, x * 2)").unwrap();
    let root = Context::default();
    let child = root.new_inner_scope();
    child.set_cost_limit(Some(3));
    assert_eq!(program.execute(&child), Err(ExecutionError::CostLimitExceeded));
    assert_eq!(root.cost_left(), Some(0));
}
