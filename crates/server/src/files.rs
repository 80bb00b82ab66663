//! Where uploaded files live: avatars, attachments and their thumbnails.
//!
//! One node keeps them in its data directory. Several nodes (`--nats-url`)
//! keep them in a JetStream object store on the NATS they already share, so
//! that a file uploaded through one node is served by every node — behind a
//! load balancer, half the faces would otherwise be broken. Names are
//! relative paths (`avatars/7-…png`), the same in both stores.

use std::path::{Path, PathBuf};

use async_nats::jetstream::object_store::{self, ObjectStore};
use tokio::io::AsyncReadExt;

use crate::error::{ApiError, ApiResult};

const ENOSPC: i32 = 28;

pub type FileReader = Box<dyn tokio::io::AsyncRead + Send + Unpin>;

pub enum FileStore {
    /// Under the data directory: `<data-dir>/<name>`.
    Local(PathBuf),
    /// A JetStream object store bucket shared by every node.
    Shared(Box<ObjectStore>),
}

impl FileStore {
    pub fn local(data_dir: &Path) -> FileStore {
        FileStore::Local(data_dir.to_path_buf())
    }

    /// The shared bucket (made if missing). Files a node kept on its own disk
    /// before it joined (an upgrade from one node to several) are copied in,
    /// so no avatar is lost on the way.
    pub async fn shared(
        nats: &async_nats::Client,
        bucket: &str,
        data_dir: &Path,
    ) -> anyhow::Result<FileStore> {
        let jetstream = async_nats::jetstream::new(nats.clone());
        let store = match jetstream.get_object_store(bucket).await {
            Ok(store) => store,
            Err(_) => jetstream
                .create_object_store(object_store::Config {
                    bucket: bucket.to_string(),
                    description: Some("Switchboard: avatars and attachments".into()),
                    ..Default::default()
                })
                .await
                .map_err(|e| {
                    anyhow::anyhow!("the NATS object store {bucket:?} (is JetStream on?): {e}")
                })?,
        };
        let files = FileStore::Shared(Box::new(store));
        files.adopt_local(data_dir, "avatars").await?;
        Ok(files)
    }

    async fn adopt_local(&self, data_dir: &Path, folder: &str) -> anyhow::Result<()> {
        let FileStore::Shared(store) = self else {
            return Ok(());
        };
        let Ok(mut entries) = tokio::fs::read_dir(data_dir.join(folder)).await else {
            return Ok(());
        };
        let mut copied = 0;
        while let Some(entry) = entries.next_entry().await? {
            let name = format!("{folder}/{}", entry.file_name().to_string_lossy());
            if store.info(&name).await.is_ok() {
                continue;
            }
            let bytes = tokio::fs::read(entry.path()).await?;
            store
                .put(name.as_str(), &mut bytes.as_slice())
                .await
                .map_err(|e| anyhow::anyhow!("copying {name} to the shared store: {e}"))?;
            copied += 1;
        }
        if copied > 0 {
            tracing::info!(copied, "files of this node copied to the shared store");
        }
        Ok(())
    }

    pub async fn put(&self, name: &str, bytes: &[u8]) -> ApiResult<()> {
        match self {
            FileStore::Local(root) => {
                let path = root.join(name);
                if let Some(dir) = path.parent() {
                    tokio::fs::create_dir_all(dir).await.map_err(io_error)?;
                }
                tokio::fs::write(&path, bytes).await.map_err(io_error)
            }
            FileStore::Shared(store) => {
                let mut reader = bytes;
                store.put(name, &mut reader).await.map(|_| ()).map_err(|e| {
                    tracing::warn!(name, error = %e, "the shared file store refused a file");
                    ApiError::unavailable(2, "the file store does not answer; try again shortly")
                })
            }
        }
    }

    /// Moves a finished upload (a file under `<data-dir>/uploads`) into the
    /// store as `name`. Names are content hashes, so a file already there has
    /// the same bytes and stays as it is.
    pub async fn put_file(&self, name: &str, path: &Path) -> ApiResult<()> {
        match self {
            FileStore::Local(root) => {
                let target = root.join(name);
                if let Some(dir) = target.parent() {
                    tokio::fs::create_dir_all(dir).await.map_err(io_error)?;
                }
                // Same file system (both under the data dir): an atomic rename,
                // and a reader never sees half a file.
                tokio::fs::rename(path, &target).await.map_err(io_error)
            }
            FileStore::Shared(store) => {
                if store.info(name).await.is_err() {
                    let mut file = tokio::fs::File::open(path).await.map_err(io_error)?;
                    store.put(name, &mut file).await.map_err(|e| {
                        tracing::warn!(name, error = %e, "the shared file store refused a file");
                        ApiError::unavailable(
                            2,
                            "the file store does not answer; try again shortly",
                        )
                    })?;
                }
                let _ = tokio::fs::remove_file(path).await;
                Ok(())
            }
        }
    }

    /// Whether a file of this name is stored.
    pub async fn exists(&self, name: &str) -> bool {
        match self {
            FileStore::Local(root) => tokio::fs::try_exists(root.join(name))
                .await
                .unwrap_or(false),
            FileStore::Shared(store) => store.info(name).await.is_ok(),
        }
    }

    /// The file as a stream of bytes (for serving without holding it in
    /// memory), or `None` when there is no such file.
    pub async fn open(&self, name: &str) -> ApiResult<Option<FileReader>> {
        match self {
            FileStore::Local(root) => match tokio::fs::File::open(root.join(name)).await {
                Ok(file) => Ok(Some(Box::new(file))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io_error(e)),
            },
            FileStore::Shared(store) => match store.get(name).await {
                Ok(object) => Ok(Some(Box::new(object))),
                Err(e) if e.kind() == object_store::GetErrorKind::NotFound => Ok(None),
                Err(e) => {
                    tracing::warn!(name, error = %e, "the shared file store did not answer");
                    Err(ApiError::unavailable(
                        2,
                        "the file store does not answer; try again shortly",
                    ))
                }
            },
        }
    }

    /// The file's bytes, or `None` when there is no such file.
    pub async fn get(&self, name: &str) -> ApiResult<Option<Vec<u8>>> {
        match self {
            FileStore::Local(root) => match tokio::fs::read(root.join(name)).await {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io_error(e)),
            },
            FileStore::Shared(store) => {
                let mut object = match store.get(name).await {
                    Ok(object) => object,
                    Err(e) if e.kind() == object_store::GetErrorKind::NotFound => return Ok(None),
                    Err(e) => {
                        tracing::warn!(name, error = %e, "the shared file store did not answer");
                        return Err(ApiError::unavailable(
                            2,
                            "the file store does not answer; try again shortly",
                        ));
                    }
                };
                let mut bytes = Vec::new();
                object
                    .read_to_end(&mut bytes)
                    .await
                    .map_err(ApiError::internal)?;
                Ok(Some(bytes))
            }
        }
    }

    /// Deletes a file; a missing one is no error.
    pub async fn delete(&self, name: &str) -> anyhow::Result<()> {
        match self {
            FileStore::Local(root) => match tokio::fs::remove_file(root.join(name)).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
                _ => Ok(()),
            },
            FileStore::Shared(store) => match store.delete(name).await {
                Err(e) if e.kind() != object_store::DeleteErrorKind::NotFound => {
                    Err(anyhow::anyhow!("deleting {name}: {e}"))
                }
                _ => Ok(()),
            },
        }
    }
}

pub fn io_error(e: std::io::Error) -> ApiError {
    if e.raw_os_error() == Some(ENOSPC) {
        ApiError::storage_full()
    } else {
        ApiError::internal(e)
    }
}
