//! The states of jobs, runs and parts, as the store keeps them. Typed so that the
//! exactly-once logic cannot compare against a misspelt string; a state the database
//! holds that this build does not know is an error when read, never a silent default.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

macro_rules! stored_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// The word the store keeps.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                match value.as_str()? {
                    $($text => Ok(Self::$variant),)*
                    other => Err(FromSqlError::Other(
                        format!("unknown {} {other:?} in the store", stringify!($name)).into(),
                    )),
                }
            }
        }
    };
}

stored_enum! {
    /// A scheduled replay.
    JobState {
        /// Due at its next run (a one-off job stays active until its run finishes).
        Active = "active",
        Done = "done",
        Failed = "failed",
        Missed = "missed",
        Cancelled = "cancelled",
    }
}

stored_enum! {
    /// One occurrence of a job.
    RunState {
        /// Open: its parts are being delivered (or will be resumed).
        Sending = "sending",
        Sent = "sent",
        Failed = "failed",
        Missed = "missed",
        /// A part's fate is unknown (interrupted during its request): not resent.
        Uncertain = "uncertain",
    }
}

stored_enum! {
    /// One message of a run.
    PartState {
        Pending = "pending",
        /// Marked before its request: found so after a crash, it may or may not have arrived.
        Sending = "sending",
        Sent = "sent",
        Unknown = "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn states_round_trip_and_unknown_ones_are_errors() -> rusqlite::Result<()> {
        let conn = Connection::open_in_memory()?;
        for state in [PartState::Pending, PartState::Sending, PartState::Sent, PartState::Unknown] {
            let back: PartState = conn.query_row("SELECT ?1", [state], |r| r.get(0))?;
            assert_eq!(back, state);
        }
        for state in [RunState::Sending, RunState::Sent, RunState::Failed, RunState::Missed, RunState::Uncertain] {
            let back: RunState = conn.query_row("SELECT ?1", [state], |r| r.get(0))?;
            assert_eq!(back, state);
        }
        let job: JobState = conn.query_row("SELECT 'cancelled'", [], |r| r.get(0))?;
        assert_eq!(job, JobState::Cancelled);
        let typo = conn.query_row("SELECT 'sendt'", [], |r| r.get::<_, PartState>(0));
        assert!(typo.is_err_and(|e| e.to_string().contains("unknown PartState \"sendt\"")));
        Ok(())
    }
}
