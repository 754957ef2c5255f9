//! The one place encoders are made from an index's settings. Building an index
//! ([`Encoders::for_build`]) and opening one ([`Encoders::for_index`]) both end in the
//! same loader, so the encoder that wrote a part of an index and the one that queries
//! it cannot differ: a ColBERT checkpoint is ColBERT-aware on both sides, SPLADE
//! pruning is applied to every document encoded later, models are the same files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::Device;
use seine_index::{BuildOptions, DenseSettings, Manifest, ModelId, MultiSettings, SparseSettings};

use crate::model::{ModelDir, check_model_id, model_id, resolve_model, resolve_model_with};
use crate::{
    ColbertEncoder, DenseEncoder, Encoder, MultiVectorEncoder, Pruning, Result, SpladeEncoder,
};

/// The encoders of an index's parts (none for parts it does not have).
#[derive(Clone, Default)]
pub struct Encoders {
    pub dense: Option<Arc<DenseEncoder>>,
    pub sparse: Option<Arc<SpladeEncoder>>,
    pub multi: Option<Arc<MultiVectorEncoder>>,
}

/// A model resolved to a folder, with its identity.
struct Resolved {
    dir: ModelDir,
    id: ModelId,
}

/// Model identities by folder: each folder's files are hashed once per build or open
/// (a dense model that also gives the token vectors is one folder).
#[derive(Default)]
struct Ids(HashMap<PathBuf, ModelId>);

impl Ids {
    fn of(&mut self, path: &Path) -> Result<ModelId> {
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if let Some(id) = self.0.get(&key) {
            return Ok(id.clone());
        }
        let id = model_id(path)?;
        self.0.insert(key, id.clone());
        Ok(id)
    }

    /// Resolves `name` (through `recorded`'s folder when given) and checks that the
    /// folder found holds the recorded model.
    fn resolve(&mut self, name: &str, recorded: Option<&ModelId>) -> Result<Resolved> {
        let path = resolve_model_with(name, recorded.map(|r| Path::new(&r.path)))?;
        let id = self.of(&path)?;
        check_model_id(name, &id, recorded)?;
        Ok(Resolved {
            dir: ModelDir::open(&path)?,
            id,
        })
    }
}

/// The resolved models of each part.
struct Models {
    dense: Option<Resolved>,
    sparse: Option<(Resolved, Option<Resolved>, Pruning)>,
    multi: Option<Resolved>,
}

impl Encoders {
    /// Resolves the models `opts` names (a folder, `$SEINE_MODELS`, `./models`) and
    /// records what identifies them (folder and hash) in `opts`, loading nothing:
    /// what an index built with `opts` would record, to compare with an existing
    /// index ([`seine_index::Manifest::differences`]).
    pub fn identify(opts: &mut BuildOptions) -> Result<()> {
        Self::identify_with(opts, &mut Ids::default())
    }

    fn identify_with(opts: &mut BuildOptions, ids: &mut Ids) -> Result<()> {
        let mut id = |name: &str| -> Result<ModelId> { ids.of(&resolve_model(name)?) };
        if let Some(d) = &mut opts.dense {
            d.model_id = Some(id(&d.model)?);
        }
        if let Some(s) = &mut opts.sparse {
            s.model_id = Some(id(&s.model)?);
            s.query_model_id = s.query_model.as_deref().map(&mut id).transpose()?;
        }
        if let Some(m) = &mut opts.multi {
            m.model_id = Some(id(&m.model)?);
        }
        Ok(())
    }

    /// The encoders to build an index with `opts`: models identified
    /// ([`Encoders::identify`]), loaded exactly as [`Encoders::for_index`] will load
    /// them for searching, and their dimensions recorded in `opts`.
    pub fn for_build(opts: &mut BuildOptions, device: &Device) -> Result<Self> {
        let mut ids = Ids::default();
        Self::identify_with(opts, &mut ids)?;
        let enc = Self::for_parts(
            opts.dense.as_ref(),
            opts.sparse.as_ref(),
            opts.multi.as_ref(),
            device,
            &mut ids,
        )?;
        if let (Some(d), Some(e)) = (&mut opts.dense, &enc.dense) {
            d.dim = e.dim();
        }
        if let (Some(m), Some(e)) = (&mut opts.multi, &enc.multi) {
            m.dim = e.dim();
        }
        Ok(enc)
    }

    /// The encoders of an existing index: each model resolved through the folder the
    /// index recorded ([`crate::model::resolve_model_with`]) and checked against the
    /// recorded hash; a different model under the same name is an error.
    pub fn for_index(manifest: &Manifest, device: &Device) -> Result<Self> {
        Self::for_parts(
            manifest.dense.as_ref(),
            manifest.sparse.as_ref(),
            manifest.multi.as_ref(),
            device,
            &mut Ids::default(),
        )
    }

    fn for_parts(
        dense: Option<&DenseSettings>,
        sparse: Option<&SparseSettings>,
        multi: Option<&MultiSettings>,
        device: &Device,
        ids: &mut Ids,
    ) -> Result<Self> {
        let sparse = match sparse {
            Some(s) => Some((
                ids.resolve(&s.model, s.model_id.as_ref())?,
                match s.query_model.as_deref() {
                    Some(q) => Some(ids.resolve(q, s.query_model_id.as_ref())?),
                    None => None,
                },
                pruning(s)?,
            )),
            None => None,
        };
        let models = Models {
            dense: match dense {
                Some(d) => Some(ids.resolve(&d.model, d.model_id.as_ref())?),
                None => None,
            },
            sparse,
            multi: match multi {
                Some(m) => Some(ids.resolve(&m.model, m.model_id.as_ref())?),
                None => None,
            },
        };
        Self::load(models, device)
    }

    /// The single loader behind both.
    fn load(models: Models, device: &Device) -> Result<Self> {
        let dense = match &models.dense {
            Some(r) => Some(Arc::new(DenseEncoder::load(&r.dir, device)?)),
            None => None,
        };
        let multi = match &models.multi {
            Some(r) if ColbertEncoder::is_checkpoint(&r.dir.root) => {
                Some(MultiVectorEncoder::load(&r.dir, device)?)
            }
            // The dense model's token outputs: share its loaded weights.
            Some(r) => Some(match (&dense, &models.dense) {
                (Some(d), Some(dr)) if dr.id.sha256 == r.id.sha256 => {
                    MultiVectorEncoder::from_dense(d.clone())
                }
                _ => MultiVectorEncoder::load(&r.dir, device)?,
            }),
            None => None,
        };
        let sparse = match &models.sparse {
            Some((doc, query, prune)) => Some(Arc::new(
                SpladeEncoder::load(&doc.dir, query.as_ref().map(|q| &q.dir), device)?
                    .with_pruning(*prune, Pruning::default()),
            )),
            None => None,
        };
        Ok(Encoders {
            dense,
            sparse,
            multi: multi.map(Arc::new),
        })
    }

    /// One encoder by name (a folder, `$SEINE_MODELS` or `./models`), outside any
    /// index: `seine embed`, `seine bench encode` and Python's `Encoder`. A sparse
    /// encoder prunes documents and queries alike with `pruning`.
    pub fn standalone(
        kind: crate::settings::EmbedKind,
        model: &str,
        pruning: Pruning,
        device: &Device,
    ) -> Result<Self> {
        use crate::settings::EmbedKind;
        let dir = ModelDir::open(&resolve_model(model)?)?;
        Ok(match kind {
            EmbedKind::Dense => Encoders {
                dense: Some(Arc::new(DenseEncoder::load(&dir, device)?)),
                ..Encoders::default()
            },
            EmbedKind::Sparse => {
                let p = checked(pruning)?;
                let enc = SpladeEncoder::load(&dir, None, device)?.with_pruning(p, p);
                Encoders {
                    sparse: Some(Arc::new(enc)),
                    ..Encoders::default()
                }
            }
            EmbedKind::Multi => Encoders {
                multi: Some(Arc::new(MultiVectorEncoder::load(&dir, device)?)),
                ..Encoders::default()
            },
        })
    }

    /// The token vectors come from the dense model's forward pass: one pass gives
    /// both the pooled vector and the token vectors.
    pub fn multi_shares_dense(&self) -> bool {
        match (&self.dense, &self.multi) {
            (Some(d), Some(m)) => m.dense_encoder().is_some_and(|x| Arc::ptr_eq(x, d)),
            _ => false,
        }
    }
}

/// SPLADE document pruning as the settings record it.
fn pruning(s: &SparseSettings) -> Result<Pruning> {
    checked(Pruning {
        top_k: s.top_k,
        threshold: s.threshold,
    })
}

/// The one check of SPLADE pruning settings.
fn checked(p: Pruning) -> Result<Pruning> {
    if p.top_k == Some(0) {
        return Err(crate::Error::InvalidArgument(
            "sparse top-k must be at least 1".into(),
        ));
    }
    Ok(p)
}

/// A model folder's name for reports (`minilm` for `models/minilm`).
pub fn model_label(name: &str) -> String {
    Path::new(name)
        .file_name()
        .map_or(name.to_string(), |n| n.to_string_lossy().into_owned())
}
