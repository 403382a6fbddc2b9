//! Files of live posts fetched from Telegram for the web archive: `getFile`, then the
//! download (bots may download files of up to 20 MB).

use teloxide::net::Download;
use teloxide::prelude::*;
use teloxide::types::FileId;

use super::send::retry;

/// The web archive's way to Telegram's files.
pub struct TelegramFiles {
    pub bot: Bot,
}

impl crate::web::Fetch for TelegramFiles {
    fn fetch<'a>(
        &'a self,
        file_id: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<Vec<u8>>> + Send + 'a>> {
        Box::pin(async move {
            let file = retry("getFile", || self.bot.get_file(FileId(file_id.to_string())).send()).await?;
            let mut bytes = Vec::with_capacity(file.size as usize);
            self.bot.download_file(&file.path, &mut bytes).await?;
            Ok(bytes)
        })
    }
}
