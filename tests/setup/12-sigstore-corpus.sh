# The offline Sigstore corpus that tests/sigstore.rs and tests/policy.rs read: real
# public bundles, the artifacts they sign and trusted roots. It is public data kept
# beside the project, in ../shared/corpus/sigstore (its README names the source of
# every file), not in the repository.
#
# Where ../shared/corpus/sigstore is absent, this step fetches the files of it that the
# package registries serve, each checked against the digest of the corpus copy, into
# $MCPIN_TEST_CACHE/sigstore-corpus:
# - npm/sigstore-{5.0.0,2.0.0,1.3.0}.tgz: `npm pack sigstore@<v>`;
# - npm/sigstore-5.0.0.provenance.sigstore.json: the crate sigstore 0.15.0's
#   tests/data/npm_slsa_bundle_v03.json (a copy of npm's attestation for sigstore@5.0.0);
# - trusted-roots/{production,staging}.trusted_root.json: the roots embedded in the
#   sigstore 4.5.1 wheel from PyPI.
# The rest (the sigstore-conformance cases, sigstore-go's older npm bundles, cases.json)
# comes only from GitHub or from the corpus itself; the tests that need a missing file
# fail naming it. A fetch that fails here is reported and leaves its file missing.
# Exports MCPIN_SIGSTORE_CORPUS.

shared_corpus=$repo/../shared/corpus/sigstore
if [[ -d $shared_corpus ]]; then
    MCPIN_SIGSTORE_CORPUS=$(cd "$shared_corpus" && pwd)
    export MCPIN_SIGSTORE_CORPUS
else
    export MCPIN_SIGSTORE_CORPUS=$MCPIN_TEST_CACHE/sigstore-corpus
    mkdir -p "$MCPIN_SIGSTORE_CORPUS/npm" "$MCPIN_SIGSTORE_CORPUS/trusted-roots"
    echo "    $shared_corpus is absent: fetching what registries serve of it" >&2

    # Moves FILE to corpus path DEST if its sha256 is SHA256; otherwise says why not.
    corpus_put() { # FILE DEST SHA256
        local actual
        actual=$(sha256sum "$1" | cut -d' ' -f1)
        if [[ $actual != "$3" ]]; then
            echo "    sigstore corpus: $2 has sha256 $actual, expected $3; not used" >&2
            return 1
        fi
        mv "$1" "$MCPIN_SIGSTORE_CORPUS/$2"
    }

    corpus_npm() { # VERSION SHA256
        local dest=npm/sigstore-$1.tgz scratch status=0
        [[ -s $MCPIN_SIGSTORE_CORPUS/$dest ]] && return
        scratch=$(mktemp -d)
        { (cd "$scratch" && npm pack --silent "sigstore@$1" >/dev/null) &&
            corpus_put "$scratch/sigstore-$1.tgz" "$dest" "$2"; } || status=$?
        rm -rf "$scratch"
        return "$status"
    }

    corpus_roots() {
        local scratch status=0 store=sigstore/_store/https%3A%2F%2Ftuf-repo-cdn
        [[ -s $MCPIN_SIGSTORE_CORPUS/trusted-roots/production.trusted_root.json &&
            -s $MCPIN_SIGSTORE_CORPUS/trusted-roots/staging.trusted_root.json ]] && return
        scratch=$(mktemp -d)
        { python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$scratch" \
            sigstore==4.5.1 &&
            python3 -m zipfile -e "$scratch/sigstore-4.5.1-py3-none-any.whl" "$scratch/wheel" &&
            corpus_put "$scratch/wheel/$store.sigstore.dev/trusted_root.json" \
                trusted-roots/production.trusted_root.json \
                6494e21ea73fa7ee769f85f57d5a3e6a08725eae1e38c755fc3517c9e6bc0b66 &&
            corpus_put "$scratch/wheel/$store.sigstage.dev/trusted_root.json" \
                trusted-roots/staging.trusted_root.json \
                81f5af777952d2c3955062ad56924c05ca916b5d49f3a0bce945faa475a8b1cc; } || status=$?
        rm -rf "$scratch"
        return "$status"
    }

    corpus_provenance() {
        local dest=npm/sigstore-5.0.0.provenance.sigstore.json scratch crate status=0
        [[ -s $MCPIN_SIGSTORE_CORPUS/$dest ]] && return
        # `cargo info` downloads the crate and unpacks it into cargo's registry sources.
        # Run outside the workspace so its lock file plays no part.
        scratch=$(mktemp -d)
        (cd "$scratch" && cargo info --quiet sigstore@0.15.0 >/dev/null) || true
        crate=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -maxdepth 2 \
            -name sigstore-0.15.0 -type d 2>/dev/null | head -n 1)
        { [[ -n $crate ]] && cp "$crate/tests/data/npm_slsa_bundle_v03.json" "$scratch/bundle" &&
            corpus_put "$scratch/bundle" "$dest" \
                8900ee3e85bcf5ac7e49c21810b6b7503793718868189ddfa5299eccd79b46c7; } || status=$?
        rm -rf "$scratch"
        return "$status"
    }

    corpus_npm 5.0.0 3718e9a74a5a824a785b5f3930f767a4efdb052b3d4db65cd7649a5e2aa2f465 ||
        echo "    sigstore corpus: could not fetch sigstore@5.0.0 from npm" >&2
    corpus_npm 2.0.0 b30fd8960310982103abb4e2be9ab9051e61c7db02efc02c3e413d57f60c3268 ||
        echo "    sigstore corpus: could not fetch sigstore@2.0.0 from npm" >&2
    corpus_npm 1.3.0 d9faa58fd21ab8b4bd22458e0eacf43c47d720ca4e52a9664cc912cd3022ab3b ||
        echo "    sigstore corpus: could not fetch sigstore@1.3.0 from npm" >&2
    corpus_roots || echo "    sigstore corpus: could not fetch the trusted roots from PyPI" >&2
    corpus_provenance ||
        echo "    sigstore corpus: could not fetch the sigstore 0.15.0 crate's npm bundle" >&2
fi
