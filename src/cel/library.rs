//! The Kubernetes CEL libraries (k8s.io/apiserver/pkg/cel/library) that the cel crate lacks,
//! as Kubernetes defines them: lists (`isSorted`, `sum`, `min`, `max`, `indexOf`,
//! `lastIndexOf`), regex (`find`, `findAll`), quantity, URLs, IP addresses and CIDRs, and
//! cel-go's sets extension (`sets.contains`, `sets.equivalent`, `sets.intersects`) that
//! Kubernetes also enables. Each returns the errors Kubernetes returns for bad arguments.

use super::quantity::Quantity;
use cel::common::value::{CowVal, Val};
use cel::objects::{Key, Map};
use cel::{Context, ExecutionError, FunctionContext, Value};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Names a CEL call may use: the standard library, the strings/lists/encoders/math extensions
/// the environment enables, and the functions below.
pub fn is_known_function(name: &str) -> bool {
    const STANDARD: &[&str] = &[
        "size",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "string",
        "int",
        "uint",
        "double",
        "bytes",
        "bool",
        "type",
        "dyn",
        "duration",
        "timestamp",
        "getFullYear",
        "getMonth",
        "getDayOfYear",
        "getDayOfMonth",
        "getDate",
        "getDayOfWeek",
        "getHours",
        "getMinutes",
        "getSeconds",
        "getMilliseconds",
        "optional.of",
        "optional.ofNonZeroValue",
        "optional.none",
        "hasValue",
        "value",
        "or",
        "orValue",
        // strings extension
        "charAt",
        "indexOf",
        "lastIndexOf",
        "join",
        "lowerAscii",
        "upperAscii",
        "trim",
        "replace",
        "split",
        "substring",
        "format",
        "strings.quote",
        "reverse",
        // lists extension
        "distinct",
        "flatten",
        "lists.range",
        "slice",
        "sort",
        "sortBy",
        "first",
        "last",
        // encoders and math
        "base64.encode",
        "base64.decode",
        "math.greatest",
        "math.least",
        "math.abs",
        "math.ceil",
        "math.floor",
        "math.round",
        "math.trunc",
        "math.sign",
        "math.sqrt",
        "math.isInf",
        "math.isNaN",
        "math.isFinite",
        "math.bitAnd",
        "math.bitOr",
        "math.bitXor",
        "math.bitNot",
        "math.bitShiftLeft",
        "math.bitShiftRight",
    ];
    // Operators and macro helpers are spelt with punctuation (`_&&_`, `@in`, `!_`).
    name.starts_with(|c: char| !c.is_ascii_alphabetic())
        || STANDARD.contains(&name)
        || KUBERNETES.contains(&name)
}

/// The functions this module adds.
const KUBERNETES: &[&str] = &[
    "isSorted",
    "sum",
    "min",
    "max",
    "find",
    "findAll",
    "quantity",
    "isQuantity",
    "sign",
    "isInteger",
    "asInteger",
    "asApproximateFloat",
    "add",
    "sub",
    "isLessThan",
    "isGreaterThan",
    "compareTo",
    "url",
    "isURL",
    "getScheme",
    "getHost",
    "getHostname",
    "getPort",
    "getEscapedPath",
    "getQuery",
    "ip",
    "isIP",
    "ip.isCanonical",
    "family",
    "isUnspecified",
    "isLoopback",
    "isLinkLocalMulticast",
    "isLinkLocalUnicast",
    "isGlobalUnicast",
    "cidr",
    "isCIDR",
    "containsIP",
    "containsCIDR",
    "masked",
    "prefixLength",
    "sets.contains",
    "sets.equivalent",
    "sets.intersects",
];

/// `indexOf`/`lastIndexOf` on lists: the strings extension declares these names as overloads,
/// so the list forms are overloads too.
pub fn overloads(env: &mut cel::Env) -> Result<(), cel::DeclarationError> {
    use cel::common::types::{DYN_TYPE, LIST_TYPE};
    env.add_member_overload(
        "indexOf",
        "list.indexOf(dyn)",
        LIST_TYPE,
        vec![DYN_TYPE],
        list_index_of,
    )?;
    env.add_member_overload(
        "lastIndexOf",
        "list.lastIndexOf(dyn)",
        LIST_TYPE,
        vec![DYN_TYPE],
        list_last_index_of,
    )
}

fn values(args: &[CowVal]) -> Result<Vec<Value>, ExecutionError> {
    args.iter().map(|a| Value::try_from(a.as_ref())).collect()
}

fn boxed<'b, 'v>(v: Value) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let b: Box<dyn Val> = v.try_into()?;
    Ok(CowVal::from(b))
}

fn position(args: Vec<CowVal>, last: bool) -> Result<Value, ExecutionError> {
    let [list, needle]: [Value; 2] = values(&args)?
        .try_into()
        .map_err(|v: Vec<Value>| ExecutionError::invalid_argument_count(2, v.len()))?;
    let Value::List(items) = list else {
        return Err(ExecutionError::function_error(
            "indexOf",
            "receiver is not a list",
        ));
    };
    let found = if last {
        items.iter().rposition(|x| *x == needle)
    } else {
        items.iter().position(|x| *x == needle)
    };
    Ok(Value::Int(found.map_or(-1, |i| i as i64)))
}

fn list_index_of<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    boxed(position(args, false)?)
}

fn list_last_index_of<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    boxed(position(args, true)?)
}

type Native = fn(Option<Value>, Vec<Value>) -> Result<Value, String>;

/// Registers the functions on the root context.
pub fn functions(ctx: &mut Context) {
    let table: &[(&str, Native)] = &[
        ("isSorted", is_sorted),
        ("sum", sum),
        ("min", min),
        ("max", max),
        ("find", find),
        ("findAll", find_all),
        ("quantity", quantity),
        ("isQuantity", is_quantity),
        ("sign", q_sign),
        ("isInteger", q_is_integer),
        ("asInteger", q_as_integer),
        ("asApproximateFloat", q_as_float),
        ("add", q_add),
        ("sub", q_sub),
        ("isLessThan", q_less),
        ("isGreaterThan", q_greater),
        ("compareTo", q_compare),
        ("url", url),
        ("isURL", is_url),
        ("getScheme", |t, a| url_part(t, a, UrlPart::Scheme)),
        ("getHost", |t, a| url_part(t, a, UrlPart::Host)),
        ("getHostname", |t, a| url_part(t, a, UrlPart::Hostname)),
        ("getPort", |t, a| url_part(t, a, UrlPart::Port)),
        ("getEscapedPath", |t, a| url_part(t, a, UrlPart::Path)),
        ("getQuery", |t, a| url_part(t, a, UrlPart::Query)),
        ("ip", ip),
        ("isIP", is_ip),
        ("ip.isCanonical", ip_is_canonical),
        ("family", |t, a| ip_test(t, a, IpTest::Family)),
        ("isUnspecified", |t, a| ip_test(t, a, IpTest::Unspecified)),
        ("isLoopback", |t, a| ip_test(t, a, IpTest::Loopback)),
        ("isLinkLocalMulticast", |t, a| {
            ip_test(t, a, IpTest::LinkLocalMulticast)
        }),
        ("isLinkLocalUnicast", |t, a| {
            ip_test(t, a, IpTest::LinkLocalUnicast)
        }),
        ("isGlobalUnicast", |t, a| {
            ip_test(t, a, IpTest::GlobalUnicast)
        }),
        ("cidr", cidr),
        ("isCIDR", is_cidr),
        ("containsIP", cidr_contains_ip),
        ("containsCIDR", cidr_contains_cidr),
        ("masked", cidr_masked),
        ("prefixLength", cidr_prefix_length),
        ("sets.contains", |_, a| sets(a, SetOp::Contains)),
        ("sets.equivalent", |_, a| sets(a, SetOp::Equivalent)),
        ("sets.intersects", |_, a| sets(a, SetOp::Intersects)),
    ];
    for &(name, f) in table {
        ctx.add_function(
            name,
            move |ftx: &FunctionContext| -> Result<Value, ExecutionError> {
                let this = ftx
                    .this
                    .as_ref()
                    .map(|t| Value::try_from(t.as_ref()))
                    .transpose()?;
                let args = values(&ftx.args)?;
                f(this, args).map_err(|m| ftx.error(m))
            },
        )
        .expect("Kubernetes CEL function names are free");
    }
}

fn receiver(this: Option<Value>, args: &mut Vec<Value>) -> Result<Value, String> {
    match this {
        Some(t) => Ok(t),
        None if !args.is_empty() => Ok(args.remove(0)),
        None => Err("missing receiver".into()),
    }
}

fn arity(args: &[Value], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!("expected {n} argument(s), got {}", args.len()))
    }
}

fn list_of(v: Value) -> Result<Arc<Vec<Value>>, String> {
    match v {
        Value::List(l) => Ok(l),
        other => Err(format!("expected a list, got {other:?}")),
    }
}

fn string_of(v: &Value) -> Result<&str, String> {
    match v {
        Value::String(s) => Ok(s.as_str()),
        other => Err(format!("expected a string, got {other:?}")),
    }
}

/// Ordering of comparable list elements (Kubernetes' lists library requires one comparable
/// element type).
fn order(a: &Value, b: &Value) -> Result<Ordering, String> {
    if let (Some(qa), Some(qb)) = (as_quantity(a), as_quantity(b)) {
        return Ok(qa.compare(qb));
    }
    match (a, b) {
        (Value::Int(_), Value::Int(_))
        | (Value::UInt(_), Value::UInt(_))
        | (Value::Float(_), Value::Float(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Bytes(_), Value::Bytes(_))
        | (Value::Duration(_), Value::Duration(_))
        | (Value::Timestamp(_), Value::Timestamp(_)) => a
            .partial_cmp(b)
            .ok_or_else(|| format!("{a:?} and {b:?} are not comparable")),
        _ => Err(format!("{a:?} and {b:?} are not comparable")),
    }
}

fn is_sorted(this: Option<Value>, mut args: Vec<Value>) -> Result<Value, String> {
    let list = list_of(receiver(this, &mut args)?)?;
    for w in list.windows(2) {
        if order(&w[0], &w[1])? == Ordering::Greater {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(true))
}

fn sum(this: Option<Value>, mut args: Vec<Value>) -> Result<Value, String> {
    let list = list_of(receiver(this, &mut args)?)?;
    let mut it = list.iter();
    let Some(first) = it.next() else {
        return Ok(Value::Int(0));
    };
    let mut acc = first.clone();
    for x in it {
        acc = match (&acc, x) {
            (Value::Int(a), Value::Int(b)) => {
                Value::Int(a.checked_add(*b).ok_or("integer overflow")?)
            }
            (Value::UInt(a), Value::UInt(b)) => {
                Value::UInt(a.checked_add(*b).ok_or("integer overflow")?)
            }
            (Value::Float(a), Value::Float(b)) => Value::Float(a + b),
            (Value::Duration(a), Value::Duration(b)) => Value::Duration(*a + *b),
            _ => return Err(format!("sum of {acc:?} and {x:?} is not defined")),
        };
    }
    Ok(acc)
}

fn extreme(this: Option<Value>, mut args: Vec<Value>, want: Ordering) -> Result<Value, String> {
    let list = list_of(receiver(this, &mut args)?)?;
    let mut best: Option<&Value> = None;
    for x in list.iter() {
        best = match best {
            None => Some(x),
            Some(b) if order(x, b)? == want => Some(x),
            keep => keep,
        };
    }
    best.cloned()
        .ok_or_else(|| "called on an empty list".to_string())
}

fn min(this: Option<Value>, args: Vec<Value>) -> Result<Value, String> {
    extreme(this, args, Ordering::Less)
}

fn max(this: Option<Value>, args: Vec<Value>) -> Result<Value, String> {
    extreme(this, args, Ordering::Greater)
}

fn regex_of(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| format!("invalid regular expression: {e}"))
}

fn find(this: Option<Value>, mut args: Vec<Value>) -> Result<Value, String> {
    let s = receiver(this, &mut args)?;
    arity(&args, 1)?;
    let re = regex_of(string_of(&args[0])?)?;
    Ok(Value::from(
        re.find(string_of(&s)?)
            .map_or("", |m| m.as_str())
            .to_string(),
    ))
}

fn find_all(this: Option<Value>, mut args: Vec<Value>) -> Result<Value, String> {
    let s = receiver(this, &mut args)?;
    if args.is_empty() || args.len() > 2 {
        return Err("findAll takes a pattern and an optional limit".into());
    }
    let re = regex_of(string_of(&args[0])?)?;
    let limit = match args.get(1) {
        None => usize::MAX,
        Some(Value::Int(n)) if *n < 0 => usize::MAX,
        Some(Value::Int(n)) => *n as usize,
        Some(other) => return Err(format!("limit must be an int, got {other:?}")),
    };
    let found: Vec<Value> = re
        .find_iter(string_of(&s)?)
        .take(limit)
        .map(|m| Value::from(m.as_str().to_string()))
        .collect();
    Ok(Value::List(Arc::new(found)))
}

// ---- quantity ----

fn as_quantity(v: &Value) -> Option<&Quantity> {
    match v {
        Value::Opaque(o) => o.downcast_ref::<Quantity>(),
        _ => None,
    }
}

fn quantity_arg(v: &Value) -> Result<&Quantity, String> {
    as_quantity(v).ok_or_else(|| format!("expected a quantity, got {v:?}"))
}

fn quantity(_: Option<Value>, args: Vec<Value>) -> Result<Value, String> {
    arity(&args, 1)?;
    Ok(Value::Opaque(Arc::new(Quantity::parse(string_of(
        &args[0],
    )?)?)))
}

fn is_quantity(_: Option<Value>, args: Vec<Value>) -> Result<Value, String> {
    arity(&args, 1)?;
    Ok(Value::Bool(Quantity::parse(string_of(&args[0])?).is_ok()))
}

fn q_unary(this: Option<Value>, mut args: Vec<Value>) -> Result<Quantity, String> {
    let q = receiver(this, &mut args)?;
    arity(&args, 0)?;
    quantity_arg(&q).cloned()
}

fn q_binary(this: Option<Value>, mut args: Vec<Value>) -> Result<(Quantity, Value), String> {
    let q = receiver(this, &mut args)?;
    arity(&args, 1)?;
    Ok((quantity_arg(&q)?.clone(), args.remove(0)))
}

fn q_sign(this: Option<Value>, args: Vec<Value>) -> Result<Value, String> {
    Ok(Value::Int(q_unary(this, args)?.sign()))
}

fn q_is_integer(this: Option<Value>, args: Vec<Value>) -> Result<Value, String> {
    Ok(Value::Bool(q_unary(this, args)?.as_integer().is_some()))
}

fn q_as_integer(this: Option<Value>, args: Vec<Value>) -> Result<Value, String> {
    let q = q_unary(this, args)?;
    q.as_integer()
        .map(Value::Int)
        .ok_or_else(|| format!("cannot convert value {} to integer", q.text()))
}

fn q_as_float(this: Option<Value>, args: Vec<Value>) -> Result<Value, String> {
    Ok(Value::Float(q_unary(this, args)?.as_approximate_float()))
}

fn q_arith(this: Option<Value>, args: Vec<Value>, sub: bool) -> Result<Value, String> {
    let (q, other) = q_binary(this, args)?;
    let out = match (&other, sub) {
        (Value::Int(i), false) => q.add_int(*i)?,
        (Value::Int(i), true) => q.sub_int(*i)?,
        (o, false) => q.add(quantity_arg(o)?)?,
        (o, true) => q.sub(quantity_arg(o)?)?,
    };
    Ok(Value::Opaque(Arc::new(out)))
}

fn q_add(this: Option<Value>, args: Vec<Value>) -> Result<Value, String> {
    q_arith(this, args, false)
}

fn q_sub(this: Option<Value>, args: Vec<Value>) -> Result<Value, String> {
    q_arith(this, args, true)
}

fn q_cmp(this: Option<Value>, args: Vec<Value>) -> Result<Ordering, String> {
    let (q, other) = q_binary(this, args)?;
    Ok(q.compare(quantity_arg(&other)?))
}

fn q_less(this: Option<Value>, args: Vec<Value>) -> Result<Value, String> {
    Ok(Value::Bool(q_cmp(this, args)? == Ordering::Less))
}

fn q_greater(this: Option<Value>, args: Vec<Value>) -> Result<Value, String> {
    Ok(Value::Bool(q_cmp(this, args)? == Ordering::Greater))
}

fn q_compare(this: Option<Value>, args: Vec<Value>) -> Result<Value, String> {
    Ok(Value::Int(match q_cmp(this, args)? {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }))
}

// ---- URLs ----

/// A URL as Go's `url.ParseRequestURI` accepts it: absolute, or an absolute path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Url {
    scheme: String,
    /// `host[:port]` as written (IPv6 in brackets).
    host: String,
    path: String,
    query: String,
}

impl cel::objects::Opaque for Url {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.URL"
    }
}

fn parse_url(s: &str) -> Result<Url, String> {
    let bad = || format!("URL parse error during conversion from string: {s:?}");
    if s.is_empty() || s.chars().any(|c| c.is_ascii_control() || c == ' ') {
        return Err(bad());
    }
    let (before_query, query) = s.split_once('?').unwrap_or((s, ""));
    let before_query = before_query.split('#').next().unwrap_or("");
    if before_query.starts_with('/') {
        return Ok(Url {
            scheme: String::new(),
            host: String::new(),
            path: before_query.to_string(),
            query: query.to_string(),
        });
    }
    let (scheme, rest) = before_query.split_once(':').ok_or_else(bad)?;
    let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !valid_scheme {
        return Err(bad());
    }
    let (host, path) = match rest.strip_prefix("//") {
        Some(authority_and_path) => {
            let (authority, path) = match authority_and_path.find('/') {
                Some(i) => authority_and_path.split_at(i),
                None => (authority_and_path, ""),
            };
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            (host.to_string(), path.to_string())
        }
        None if rest.starts_with('/') => (String::new(), rest.to_string()),
        // `mailto:x` — opaque URLs are not request URIs.
        None => return Err(bad()),
    };
    Ok(Url {
        scheme: scheme.to_string(),
        host,
        path,
        query: query.to_string(),
    })
}

fn url(_: Option<Value>, args: Vec<Value>) -> Result<Value, String> {
    arity(&args, 1)?;
    Ok(Value::Opaque(Arc::new(parse_url(string_of(&args[0])?)?)))
}

fn is_url(_: Option<Value>, args: Vec<Value>) -> Result<Value, String> {
    arity(&args, 1)?;
    Ok(Value::Bool(parse_url(string_of(&args[0])?).is_ok()))
}

enum UrlPart {
    Scheme,
    Host,
    Hostname,
    Port,
    Path,
    Query,
}

fn url_part(this: Option<Value>, mut args: Vec<Value>, part: UrlPart) -> Result<Value, String> {
    let v = receiver(this, &mut args)?;
    arity(&args, 0)?;
    let u = match &v {
        Value::Opaque(o) => o.downcast_ref::<Url>(),
        _ => None,
    }
    .ok_or_else(|| format!("expected a URL, got {v:?}"))?;
    let (hostname, port) = split_host_port(&u.host);
    Ok(match part {
        UrlPart::Scheme => Value::from(u.scheme.clone()),
        UrlPart::Host => Value::from(u.host.clone()),
        UrlPart::Hostname => Value::from(hostname.to_string()),
        UrlPart::Port => Value::from(port.to_string()),
        UrlPart::Path => Value::from(u.path.clone()),
        UrlPart::Query => {
            let mut out: HashMap<Key, Vec<Value>> = HashMap::new();
            for pair in u.query.split(['&']).filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let dec =
                    |x: &str| percent_decode(&x.replace('+', " ")).unwrap_or_else(|| x.to_string());
                out.entry(Key::from(dec(k)))
                    .or_default()
                    .push(Value::from(dec(v)));
            }
            Value::Map(Map {
                map: Arc::new(
                    out.into_iter()
                        .map(|(k, v)| (k, Value::List(Arc::new(v))))
                        .collect(),
                ),
            })
        }
    })
}

fn split_host_port(host: &str) -> (&str, &str) {
    if let Some(rest) = host.strip_prefix('[') {
        if let Some((h, after)) = rest.split_once(']') {
            return (h, after.strip_prefix(':').unwrap_or(""));
        }
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, p),
        _ => (host, ""),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

// ---- IP addresses and CIDRs ----

/// Kubernetes' `ip()` refuses IPv4-mapped IPv6 addresses and zones.
fn parse_ip(s: &str) -> Result<IpAddr, String> {
    if s.contains('%') {
        return Err(format!("IP address with zone value is not allowed: {s:?}"));
    }
    let ip: IpAddr = s
        .parse()
        .map_err(|_| format!("IP Address {s:?} parse error during conversion from string"))?;
    if let IpAddr::V6(v6) = ip {
        if v6.to_ipv4_mapped().is_some() {
            return Err(format!("IPv4-mapped IPv6 address is not allowed: {s:?}"));
        }
    }
    Ok(ip)
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Ip(IpAddr);

impl cel::objects::Opaque for Ip {
    fn runtime_type_name(&self) -> &str {
        "net.IP"
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cidr(IpAddr, u8);

impl cel::objects::Opaque for Cidr {
    fn runtime_type_name(&self) -> &str {
        "net.CIDR"
    }
}

fn ip(_: Option<Value>, args: Vec<Value>) -> Result<Value, String> {
    arity(&args, 1)?;
    Ok(Value::Opaque(Arc::new(Ip(parse_ip(string_of(&args[0])?)?))))
}

fn is_ip(_: Option<Value>, args: Vec<Value>) -> Result<Value, String> {
    arity(&args, 1)?;
    Ok(Value::Bool(parse_ip(string_of(&args[0])?).is_ok()))
}

fn ip_is_canonical(_: Option<Value>, args: Vec<Value>) -> Result<Value, String> {
    arity(&args, 1)?;
    let s = string_of(&args[0])?;
    Ok(Value::Bool(parse_ip(s)?.to_string() == s))
}

enum IpTest {
    Family,
    Unspecified,
    Loopback,
    LinkLocalMulticast,
    LinkLocalUnicast,
    GlobalUnicast,
}

fn ip_of(v: &Value) -> Result<IpAddr, String> {
    match v {
        Value::Opaque(o) => o.downcast_ref::<Ip>().map(|i| i.0),
        _ => None,
    }
    .ok_or_else(|| format!("expected an IP address, got {v:?}"))
}

fn ip_test(this: Option<Value>, mut args: Vec<Value>, test: IpTest) -> Result<Value, String> {
    let v = receiver(this, &mut args)?;
    arity(&args, 0)?;
    let ip = ip_of(&v)?;
    Ok(match test {
        IpTest::Family => Value::Int(if ip.is_ipv4() { 4 } else { 6 }),
        IpTest::Unspecified => Value::Bool(ip.is_unspecified()),
        IpTest::Loopback => Value::Bool(ip.is_loopback()),
        IpTest::LinkLocalMulticast => Value::Bool(match ip {
            IpAddr::V4(a) => a.octets()[..3] == [224, 0, 0],
            IpAddr::V6(a) => a.segments()[0] & 0xff0f == 0xff02,
        }),
        IpTest::LinkLocalUnicast => Value::Bool(match ip {
            IpAddr::V4(a) => a.is_link_local(),
            IpAddr::V6(a) => a.segments()[0] & 0xffc0 == 0xfe80,
        }),
        // Go's net.IP.IsGlobalUnicast: not unspecified, loopback, link-local, multicast or
        // broadcast.
        IpTest::GlobalUnicast => Value::Bool(match ip {
            IpAddr::V4(a) => {
                !(a.is_unspecified()
                    || a.is_loopback()
                    || a.is_link_local()
                    || a.is_multicast()
                    || a.is_broadcast())
            }
            IpAddr::V6(a) => {
                !(a.is_unspecified()
                    || a.is_loopback()
                    || a.segments()[0] & 0xffc0 == 0xfe80
                    || a.is_multicast())
            }
        }),
    })
}

fn parse_cidr(s: &str) -> Result<Cidr, String> {
    let bad = || format!("network address parse error during conversion from string: {s:?}");
    let (addr, len) = s.split_once('/').ok_or_else(bad)?;
    let ip = parse_ip(addr).map_err(|_| bad())?;
    if len.is_empty() || len.starts_with('+') || (len.len() > 1 && len.starts_with('0')) {
        return Err(bad());
    }
    let len: u8 = len.parse().map_err(|_| bad())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if len > max {
        return Err(bad());
    }
    Ok(Cidr(ip, len))
}

fn mask(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let m = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

fn contains(net: &Cidr, ip: IpAddr) -> bool {
    net.0.is_ipv4() == ip.is_ipv4() && mask(ip, net.1) == mask(net.0, net.1)
}

fn cidr(_: Option<Value>, args: Vec<Value>) -> Result<Value, String> {
    arity(&args, 1)?;
    Ok(Value::Opaque(Arc::new(parse_cidr(string_of(&args[0])?)?)))
}

fn is_cidr(_: Option<Value>, args: Vec<Value>) -> Result<Value, String> {
    arity(&args, 1)?;
    Ok(Value::Bool(parse_cidr(string_of(&args[0])?).is_ok()))
}

fn cidr_of(v: &Value) -> Result<Cidr, String> {
    match v {
        Value::Opaque(o) => o.downcast_ref::<Cidr>().cloned(),
        _ => None,
    }
    .ok_or_else(|| format!("expected a CIDR, got {v:?}"))
}

fn cidr_contains_ip(this: Option<Value>, mut args: Vec<Value>) -> Result<Value, String> {
    let net = cidr_of(&receiver(this, &mut args)?)?;
    arity(&args, 1)?;
    let ip = match &args[0] {
        Value::String(s) => parse_ip(s)?,
        other => ip_of(other)?,
    };
    Ok(Value::Bool(contains(&net, ip)))
}

fn cidr_contains_cidr(this: Option<Value>, mut args: Vec<Value>) -> Result<Value, String> {
    let net = cidr_of(&receiver(this, &mut args)?)?;
    arity(&args, 1)?;
    let other = match &args[0] {
        Value::String(s) => parse_cidr(s)?,
        other => cidr_of(other)?,
    };
    Ok(Value::Bool(other.1 >= net.1 && contains(&net, other.0)))
}

fn cidr_masked(this: Option<Value>, mut args: Vec<Value>) -> Result<Value, String> {
    let net = cidr_of(&receiver(this, &mut args)?)?;
    arity(&args, 0)?;
    Ok(Value::Opaque(Arc::new(Cidr(mask(net.0, net.1), net.1))))
}

fn cidr_prefix_length(this: Option<Value>, mut args: Vec<Value>) -> Result<Value, String> {
    let net = cidr_of(&receiver(this, &mut args)?)?;
    arity(&args, 0)?;
    Ok(Value::Int(net.1 as i64))
}

// ---- sets ----

enum SetOp {
    Contains,
    Equivalent,
    Intersects,
}

fn sets(args: Vec<Value>, op: SetOp) -> Result<Value, String> {
    arity(&args, 2)?;
    let mut it = args.into_iter();
    let a = list_of(it.next().unwrap_or(Value::Null))?;
    let b = list_of(it.next().unwrap_or(Value::Null))?;
    let has = |l: &[Value], x: &Value| l.iter().any(|y| y == x);
    Ok(Value::Bool(match op {
        SetOp::Contains => b.iter().all(|x| has(&a, x)),
        SetOp::Equivalent => b.iter().all(|x| has(&a, x)) && a.iter().all(|x| has(&b, x)),
        SetOp::Intersects => b.iter().any(|x| has(&a, x)),
    }))
}

#[cfg(test)]
mod tests {
    use super::super::{compile, to_val, Scope, ROOT};
    use cel::Value;
    use serde_json::json;

    fn eval(expr: &str) -> Result<Value, String> {
        let e = compile(expr, Scope::Validation, &Default::default()).map_err(|e| e.0)?;
        let object = json!({"l": [3, 1, 2]});
        ROOT.with(|root| {
            let mut ctx = root.new_inner_scope();
            ctx.add_variable_as_val("object", to_val(&object));
            e.program.execute(&ctx).map_err(|e| e.to_string())
        })
    }

    fn t(expr: &str) {
        assert_eq!(eval(expr), Ok(Value::Bool(true)), "{expr}");
    }

    // Examples from the Kubernetes CEL library documentation
    // (kubernetes.io/docs/reference/using-api/cel/).
    #[test]
    fn lists() {
        t("[1, 2, 3].isSorted() && !object.l.isSorted()");
        t("[1, 2, 3].sum() == 6 && [].sum() == 0 && [1.5, 2.5].sum() == 4.0");
        t("[1, 2, 3].max() == 3 && object.l.min() == 1 && ['b', 'a'].min() == 'a'");
        t("[1, 2, 2, 3].indexOf(2) == 1 && [1, 2, 2, 3].lastIndexOf(2) == 2 && [1].indexOf(9) == -1");
        t("'abc'.indexOf('c') == 2");
        assert!(eval("[].min()").is_err());
        assert!(eval("[1, 'a'].isSorted()").is_err());
    }

    #[test]
    fn regex() {
        t("'abc 123'.find('[0-9]+') == '123' && 'abc'.find('[0-9]+') == ''");
        t("'123 abc 456'.findAll('[0-9]+') == ['123', '456']");
        t("'123 abc 456'.findAll('[0-9]+', 1) == ['123']");
        assert!(eval("'a'.find('(')").is_err());
    }

    #[test]
    fn quantity() {
        t("quantity('50M').compareTo(quantity('50Mi')) == -1");
        t("quantity('1Gi').isGreaterThan(quantity('1G')) && quantity('100m').isLessThan(quantity('1'))");
        t("quantity('1.5').isInteger() == false && quantity('2k').asInteger() == 2000");
        t("quantity('50k').add(20).sub(quantity('100k')).sign() == -1");
        t("quantity('1Mi').asApproximateFloat() == 1048576.0");
        t("isQuantity('1.3G') && !isQuantity('1.3Gi.5')");
        t("quantity('1') == quantity('1000m')");
        assert!(eval("quantity('1.5').asInteger()").is_err());
        assert!(eval("quantity('x')").is_err());
    }

    #[test]
    fn urls() {
        t("url('https://example.com:80/path?k=v&k=w').getScheme() == 'https'");
        t("url('https://example.com:80/').getHost() == 'example.com:80'");
        t("url('https://[::1]:80/').getHostname() == '::1' && url('https://[::1]:80/').getPort() == '80'");
        t("url('https://example.com/').getPort() == ''");
        t("url('/absolute-path').getEscapedPath() == '/absolute-path' && url('/p').getScheme() == ''");
        t("url('https://example.com/p?k=a&k=b&j=c').getQuery() == {'k': ['a', 'b'], 'j': ['c']}");
        t("isURL('https://example.com') && !isURL('example.com') && !isURL('mailto:a@b')");
    }

    #[test]
    fn ips_and_cidrs() {
        t("ip('192.168.0.1').family() == 4 && ip('::1').family() == 6 && ip('::1').isLoopback()");
        t("isIP('1.2.3.4') && !isIP('1.2.3.4%eth0') && !isIP('::ffff:1.2.3.4')");
        t("ip.isCanonical('2001:db8::1') && !ip.isCanonical('2001:DB8::1')");
        t("cidr('192.168.0.0/24').containsIP(ip('192.168.0.1')) && !cidr('192.168.0.0/24').containsIP('192.168.1.1')");
        t("cidr('192.168.0.0/16').containsCIDR('192.168.10.0/24') && !cidr('192.168.0.0/24').containsCIDR('192.168.0.0/16')");
        t("cidr('192.168.1.5/24').masked() == cidr('192.168.1.0/24') && cidr('::1/128').prefixLength() == 128");
        t("ip('8.8.8.8').isGlobalUnicast() && !ip('127.0.0.1').isGlobalUnicast() && ip('fe80::1').isLinkLocalUnicast()");
        t("!isCIDR('1.2.3.4/33') && !isCIDR('1.2.3.4')");
    }

    #[test]
    fn sets() {
        t("sets.contains([1, 2, 3], [2, 3]) && !sets.contains([1], [2])");
        t("sets.equivalent([1, 2], [2, 1, 1]) && sets.intersects([1, 2], [2, 5])");
    }
}
