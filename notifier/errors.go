package notifier

import "flashwire"

// ErrRetracted means the alert was retracted and can no longer change.
var ErrRetracted = flashwire.NewError(flashwire.ErrConflict, "alert already retracted")
