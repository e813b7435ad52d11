//! Kubernetes `resource.Quantity` for the CEL quantity library (`quantity('500m')`,
//! `isQuantity`, `compareTo`, `add`, `sub`, `asInteger`, …): parsed as the API machinery parses
//! it, held exactly as `mantissa × 10^exponent` (binary suffixes multiplied out), so `1Gi ==
//! 1073741824` and `0.1 == 100m` compare equal without floating-point rounding.

use std::cmp::Ordering;

#[derive(Debug, Clone)]
pub struct Quantity {
    /// Normalised: no trailing decimal zeros unless zero.
    mantissa: i128,
    exponent: i32,
    /// As written, for display.
    text: String,
}

/// Equal by value (`1 == 1000m`), as `Quantity.Equal` is.
impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.mantissa == other.mantissa && self.exponent == other.exponent
    }
}

impl Eq for Quantity {}

impl cel::objects::Opaque for Quantity {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.Quantity"
    }
}

fn normalise(mut m: i128, mut e: i32) -> (i128, i32) {
    if m == 0 {
        return (0, 0);
    }
    while m % 10 == 0 {
        m /= 10;
        e += 1;
    }
    (m, e)
}

const FORMAT: &str = "quantities must match the regular expression \
                      '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

impl Quantity {
    /// Parses a quantity as `resource.ParseQuantity` does.
    pub fn parse(s: &str) -> Result<Quantity, String> {
        if s.is_empty() {
            return Err("quantities must not be empty".into());
        }
        let bytes = s.as_bytes();
        let mut i = 0;
        let negative = match bytes[0] {
            b'-' => {
                i = 1;
                true
            }
            b'+' => {
                i = 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut digits = String::new();
        let mut frac_digits = 0i32;
        let mut seen_dot = false;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            if bytes[i] == b'.' {
                if seen_dot {
                    return Err(FORMAT.into());
                }
                seen_dot = true;
            } else {
                digits.push(bytes[i] as char);
                if seen_dot {
                    frac_digits += 1;
                }
            }
            i += 1;
        }
        if i == start || digits.is_empty() {
            return Err(FORMAT.into());
        }
        let suffix = &s[i..];
        let (ten_exp, two_exp): (i32, u32) = match suffix {
            "" => (0, 0),
            "Ki" => (0, 10),
            "Mi" => (0, 20),
            "Gi" => (0, 30),
            "Ti" => (0, 40),
            "Pi" => (0, 50),
            "Ei" => (0, 60),
            "n" => (-9, 0),
            "u" => (-6, 0),
            "m" => (-3, 0),
            "k" => (3, 0),
            "M" => (6, 0),
            "G" => (9, 0),
            "T" => (12, 0),
            "P" => (15, 0),
            "E" => (18, 0),
            s if s.starts_with(['e', 'E']) => {
                let n: i32 = s[1..].parse().map_err(|_| FORMAT.to_string())?;
                if s[1..].is_empty() || s[1..].starts_with('+') && s.len() == 2 {
                    return Err(FORMAT.into());
                }
                (n, 0)
            }
            _ => return Err(FORMAT.into()),
        };
        let digits = digits.trim_start_matches('0');
        if digits.len() > 36 {
            return Err(format!("quantity {s:?} is too large"));
        }
        let mut m: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| FORMAT.to_string())?
        };
        m = m
            .checked_mul(1i128 << two_exp)
            .ok_or_else(|| format!("quantity {s:?} is too large"))?;
        if negative {
            m = -m;
        }
        let (mantissa, exponent) = normalise(m, ten_exp - frac_digits);
        Ok(Quantity {
            mantissa,
            exponent,
            text: s.to_string(),
        })
    }

    fn from_int(i: i64) -> Quantity {
        let (mantissa, exponent) = normalise(i as i128, 0);
        Quantity {
            mantissa,
            exponent,
            text: i.to_string(),
        }
    }

    /// Both mantissas scaled to the smaller exponent, when that fits.
    fn aligned(&self, other: &Quantity) -> Option<(i128, i128, i32)> {
        let e = self.exponent.min(other.exponent);
        let scale = |q: &Quantity| -> Option<i128> {
            let d = u32::try_from(q.exponent - e).ok()?;
            q.mantissa.checked_mul(10i128.checked_pow(d)?)
        };
        Some((scale(self)?, scale(other)?, e))
    }

    pub fn compare(&self, other: &Quantity) -> Ordering {
        match self.aligned(other) {
            Some((a, b, _)) => a.cmp(&b),
            None => {
                // Only reached when the exponents are far apart: order by sign, then magnitude.
                let sign = self.mantissa.signum().cmp(&other.mantissa.signum());
                if sign != Ordering::Equal {
                    return sign;
                }
                let mag = |q: &Quantity| q.exponent + q.mantissa.unsigned_abs().ilog10() as i32;
                let by_mag = mag(self).cmp(&mag(other));
                if self.mantissa < 0 {
                    by_mag.reverse()
                } else {
                    by_mag
                }
            }
        }
    }

    fn combine(&self, other: &Quantity, negate: bool) -> Result<Quantity, String> {
        let (a, b, e) = self
            .aligned(other)
            .ok_or_else(|| "quantity arithmetic overflow".to_string())?;
        let b = if negate { -b } else { b };
        let m = a
            .checked_add(b)
            .ok_or_else(|| "quantity arithmetic overflow".to_string())?;
        let (mantissa, exponent) = normalise(m, e);
        Ok(Quantity {
            mantissa,
            exponent,
            text: format_decimal(mantissa, exponent),
        })
    }

    pub fn add(&self, other: &Quantity) -> Result<Quantity, String> {
        self.combine(other, false)
    }

    pub fn sub(&self, other: &Quantity) -> Result<Quantity, String> {
        self.combine(other, true)
    }

    pub fn add_int(&self, i: i64) -> Result<Quantity, String> {
        self.add(&Quantity::from_int(i))
    }

    pub fn sub_int(&self, i: i64) -> Result<Quantity, String> {
        self.sub(&Quantity::from_int(i))
    }

    pub fn sign(&self) -> i64 {
        self.mantissa.signum() as i64
    }

    /// The value as an int64, when it is a whole number in range.
    pub fn as_integer(&self) -> Option<i64> {
        if self.exponent < 0 {
            return None; // normalised: a negative exponent means a fraction
        }
        let m = self
            .mantissa
            .checked_mul(10i128.checked_pow(self.exponent as u32)?)?;
        i64::try_from(m).ok()
    }

    pub fn as_approximate_float(&self) -> f64 {
        self.mantissa as f64 * 10f64.powi(self.exponent)
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

fn format_decimal(m: i128, e: i32) -> String {
    if e >= 0 {
        return format!("{m}{}", "0".repeat(e as usize));
    }
    let neg = m < 0;
    let digits = m.unsigned_abs().to_string();
    let frac = (-e) as usize;
    let padded = if digits.len() <= frac {
        format!("{}{digits}", "0".repeat(frac - digits.len() + 1))
    } else {
        digits
    };
    let (int, fr) = padded.split_at(padded.len() - frac);
    format!("{}{int}.{fr}", if neg { "-" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    #[test]
    fn parses_as_the_api_machinery_does() {
        assert_eq!(q("1Gi").as_integer(), Some(1 << 30));
        assert_eq!(q("500m").compare(&q("0.5")), Ordering::Equal);
        assert_eq!(q("0.1").compare(&q("100m")), Ordering::Equal);
        assert_eq!(q("1k").compare(&q("1e3")), Ordering::Equal);
        assert_eq!(q("1E").compare(&q("1e18")), Ordering::Equal);
        assert_eq!(q("-1").sign(), -1);
        assert_eq!(q(".5").as_approximate_float(), 0.5);
        assert_eq!(q("1.5Gi").as_integer(), Some(1610612736));
        assert!(q("1.5").as_integer().is_none());
        assert_eq!(q("1Mi").compare(&q("1M")), Ordering::Greater);
        assert_eq!(q("1n").compare(&q("1Ei")), Ordering::Less);
        assert_eq!(q("-1n").compare(&q("-1Ei")), Ordering::Greater);
        for bad in ["", "abc", "1.2.3", "1Qi", "1 Gi", "--1", "1e", "Mi", "."] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(q("1").add(&q("500m")).unwrap().text(), "1.5");
        assert_eq!(q("1").sub_int(3).unwrap().sign(), -1);
        assert_eq!(
            q("200Mi").sub(&q("100Mi")).unwrap().as_integer(),
            Some(100 << 20)
        );
    }
}
