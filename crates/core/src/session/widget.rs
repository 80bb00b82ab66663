//! The widget's settings as admins and marketers shape them (`GET`/`PUT
//! /api/v1/widget-settings`); a change saved anywhere arrives as `widget.updated`.

use switchboard_protocol::WidgetSettings;

use super::Session;
use crate::error::{Error, Result};

impl Session {
    pub async fn widget_settings(&self) -> Result<WidgetSettings> {
        self.api.widget_settings().await
    }

    /// Saves the settings (the server checks every value and answers 422 with
    /// the reason); returns them as stored, new greetings with their ids.
    pub async fn save_widget_settings(&self, settings: &WidgetSettings) -> Result<WidgetSettings> {
        if settings.greetings.len() > 20 {
            return Err(Error::Invalid("at most 20 greetings".into()));
        }
        self.api.put_widget_settings(settings).await
    }
}
