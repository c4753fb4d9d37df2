"""The workspace schema as migration 1 created it (the SQL :func:`triage.db.migrations.m001_initial` runs).

Kept apart from the migrations module only for its length. Like every migration, it never changes once
shipped: later changes are new numbered migrations.
"""

INITIAL_SCHEMA = """
        CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,          -- absolute path of the imported file
            content_hash TEXT,                  -- sha256 of the file's bytes
            format TEXT,                        -- loader name (inspect, metr, swe-agent, ...)
            status TEXT NOT NULL,               -- ok | error
            error TEXT,                         -- precise error (file, place, expectation) when status = error
            log_status TEXT,                    -- the source's own status (Inspect: success/error/cancelled/started)
            size_bytes INTEGER,
            n_runs INTEGER NOT NULL DEFAULT 0,
            imported_at TEXT NOT NULL
        );

        CREATE TABLE tasks (
            id TEXT PRIMARY KEY,                -- task id as the source spells it
            family TEXT,                        -- task family (METR) or benchmark/repo
            human_minutes REAL,                 -- estimated or measured human time
            human_source TEXT,                  -- baseline | estimate | ...
            threshold REAL,                     -- success threshold for continuous scores
            metadata TEXT                       -- JSON: anything else the source records
        );

        CREATE TABLE runs (
            id TEXT PRIMARY KEY,                -- stable, readable: built from the source's identity
            source_id INTEGER REFERENCES sources(id) ON DELETE SET NULL,
            task_id TEXT REFERENCES tasks(id),
            sample_id TEXT,                     -- sample/instance id within the source
            epoch INTEGER,
            agent TEXT,                         -- agent or model alias used for grouping
            model TEXT,
            score REAL,                         -- numeric score (C=1, I=0, numbers as recorded)
            score_raw TEXT,                     -- JSON: the score(s) exactly as recorded
            success INTEGER,                    -- binarised success 0/1 (NULL = unknown)
            status TEXT NOT NULL,               -- success | failed | error | limit
            error TEXT,                         -- error message as recorded
            error_type TEXT,                    -- exception type or error source (fatal_error_from, exit_status)
            limit_type TEXT,                    -- message | token | time | context | working | cost | ...
            limit_value REAL,
            exit_status TEXT,                   -- SWE-agent / mini-swe-agent exit status
            submission TEXT,                    -- the final answer / patch, truncated
            target TEXT,                        -- the expected answer, when recorded
            started_at TEXT,
            completed_at TEXT,
            total_seconds REAL,
            working_seconds REAL,
            input_tokens INTEGER,
            output_tokens INTEGER,
            total_tokens INTEGER,
            n_messages INTEGER NOT NULL DEFAULT 0,
            weight_equal REAL,                  -- METR equal_task_weight, when recorded
            weight_invsqrt REAL,                -- METR invsqrt_task_weight, when recorded
            metadata TEXT,                      -- JSON: extra fields of the source
            imported_at TEXT NOT NULL
        );
        CREATE INDEX runs_source ON runs(source_id);
        CREATE INDEX runs_task ON runs(task_id);
        CREATE INDEX runs_agent ON runs(agent);
        CREATE INDEX runs_status ON runs(status);

        -- One row per run that has messages. messages = zlib(orjson(list of Message dicts)).
        CREATE TABLE transcripts (
            run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
            encoding TEXT NOT NULL DEFAULT 'zlib+json',
            n_messages INTEGER NOT NULL,
            messages BLOB NOT NULL
        );

        -- Why a run failed: one normalised signature per failed (or reviewed) run.
        CREATE TABLE signatures (
            run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
            signature TEXT NOT NULL,            -- normalised text, equal across runs that failed alike
            kind TEXT,                          -- error | limit | tool_error | final_message | score
            raw TEXT,                           -- the raw evidence before normalisation
            message_index INTEGER,              -- where the evidence came from (NULL = run metadata)
            computed_at TEXT NOT NULL
        );

        -- Detector hits: named heuristics with evidence; a proposed category is never a label.
        CREATE TABLE detections (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            detector TEXT NOT NULL,
            category TEXT,                      -- proposed taxonomy category id
            message_index INTEGER,
            excerpt TEXT,
            detail TEXT,                        -- JSON
            UNIQUE(run_id, detector, message_index)
        );
        CREATE INDEX detections_run ON detections(run_id);

        CREATE TABLE clusters (
            id TEXT PRIMARY KEY,                -- stable id, kept while its exemplar survives
            exemplar_run_id TEXT,
            signature TEXT NOT NULL,
            size INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        CREATE TABLE cluster_members (
            run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
            cluster_id TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
            similarity REAL,                    -- to the exemplar's signature, 0-100
            joined_at TEXT NOT NULL             -- when the run first joined this cluster
        );
        CREATE INDEX cluster_members_cluster ON cluster_members(cluster_id);

        -- Reviewer edits to clustering (merge, split, move); replayed after every re-clustering.
        CREATE TABLE cluster_edits (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,                 -- merge | split | move
            payload TEXT NOT NULL,              -- JSON
            reviewer TEXT,
            created_at TEXT NOT NULL
        );

        CREATE TABLE taxonomies (
            hash TEXT PRIMARY KEY,              -- sha256 of the taxonomy file's bytes
            name TEXT,
            path TEXT,
            content TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        );

        -- Append-only label history. Every change (label, cluster decision, undo, adjudication) is a row.
        CREATE TABLE labels (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,           -- global id, so JSONL merges are idempotent
            run_id TEXT,                        -- set for run-level labels (no FK: labels outlive runs)
            cluster_id TEXT,                    -- set for cluster decisions
            category TEXT,                      -- NULL for an undo that restores 'unlabelled'
            effect TEXT,
            action TEXT NOT NULL,               -- label | cluster | undo | adjudicate
            reviewer TEXT NOT NULL,
            rationale TEXT,
            evidence_index INTEGER,
            evidence_excerpt TEXT,
            taxonomy_hash TEXT,
            suggestion_id INTEGER,              -- when a label accepts an LLM suggestion
            undoes TEXT,                        -- uid of the label row an undo reverts
            created_at TEXT NOT NULL
        );
        CREATE INDEX labels_run ON labels(run_id);
        CREATE INDEX labels_cluster ON labels(cluster_id);
        CREATE TRIGGER labels_no_update BEFORE UPDATE ON labels
            BEGIN SELECT RAISE(ABORT, 'labels are append-only'); END;
        CREATE TRIGGER labels_no_delete BEFORE DELETE ON labels
            BEGIN SELECT RAISE(ABORT, 'labels are append-only'); END;

        -- LLM suggestions: a second opinion, never a label.
        CREATE TABLE suggestions (
            id INTEGER PRIMARY KEY,
            cache_key TEXT NOT NULL UNIQUE,     -- run/cluster + taxonomy hash + model + prompt version
            run_id TEXT,
            cluster_id TEXT,
            model TEXT NOT NULL,
            base_url_host TEXT,
            prompt_version TEXT NOT NULL,
            taxonomy_hash TEXT,
            status TEXT NOT NULL,               -- ok | failed
            category TEXT,
            confidence REAL,
            rationale TEXT,
            message_indices TEXT,               -- JSON list
            raw TEXT,                           -- raw reply text (kept for failed suggestions)
            error TEXT,
            finish_reason TEXT,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            seconds REAL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX suggestions_run ON suggestions(run_id);
        CREATE INDEX suggestions_cluster ON suggestions(cluster_id);

        -- Manual checklist sign-offs, append-only.
        CREATE TABLE signoffs (
            id INTEGER PRIMARY KEY,
            item TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            note TEXT,
            checklist_hash TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TRIGGER signoffs_no_update BEFORE UPDATE ON signoffs
            BEGIN SELECT RAISE(ABORT, 'signoffs are append-only'); END;
        CREATE TRIGGER signoffs_no_delete BEFORE DELETE ON signoffs
            BEGIN SELECT RAISE(ABORT, 'signoffs are append-only'); END;

        -- Workspace settings (clustering threshold, tradeoff policy, ...).
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL                 -- JSON
        );
        """
