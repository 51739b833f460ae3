//! [`Shared`]: code held by a configuration (a [`Backend`](crate::Backend),
//! a [`HealthCheck`](crate::HealthCheck)), as opposed to its plain data.

use std::fmt;
use std::sync::Arc;

/// A trait object a configuration built in code carries, such as an
/// in-process [`Backend`](crate::Backend) or a user's
/// [`HealthCheck`](crate::HealthCheck).
///
/// Two `Shared` values are equal when they point to the same object, so a
/// cloned configuration still compares equal to its original. Such values
/// are code, not data: serde skips the fields and variants that hold them
/// (a configuration read from a file never has any, and serializing one
/// that does fails).
pub struct Shared<T: ?Sized>(pub Arc<T>);

impl<T: ?Sized> Shared<T> {
    /// Wraps an already shared object.
    pub fn new(inner: Arc<T>) -> Self {
        Self(inner)
    }
}

impl<T: ?Sized> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T: ?Sized> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<T: ?Sized> Eq for Shared<T> {}

impl<T: ?Sized> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Shared<{}>", std::any::type_name::<T>())
    }
}

impl<T: ?Sized> std::ops::Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}
