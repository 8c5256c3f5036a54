#!/usr/bin/env python3
"""Writes module/en-US/S3Mount.dll-Help.xml (MAML) from the help text below and the compiled cmdlets.

The text lives here, as data, so that the shared fleet and AWS parameters are described once. What the cmdlets are
(parameter sets, mandatory, position, pipeline input, aliases, types, wildcards) is read from the built module
(tools/cmdlet-metadata.ps1), so help cannot drift from the code: a parameter without text, or text for a parameter
that does not exist, stops the generator. tests/pester/Help.Tests.ps1 compares Get-Help with Get-Command in a real
session. Run after 'dotnet build': python3 tools/helpgen.py (uses pwsh from PATH, $PWSH, or .tools/pwsh).
"""
import json
import os
import shutil
import subprocess
from xml.sax.saxutils import escape

FLEET = {
    "InstanceId": ("string[]", "EC2 or managed-instance ids (i-0123456789abcdef0, mi-...) to act on through SSM Run Command; each is checked locally (S3MountInstanceIdInvalid) before anything is sent. Binds by property name (aliases Instance, Instances), so EC2 Instance and Reservation objects (what Get-EC2Instance returns), SSM InstanceInformation objects and S3Mount's own output pipe straight in, each going to the instance it names (see -InputObject). Pipeline input is collected and sent as batched commands (at most 50 instances each), never one command per object. Without -InstanceId, -Target or -Root the cmdlet acts on this machine."),
    "Target": ("SsmTarget[]", "SSM targets instead of instance ids (at most 5), as strings Key=Value[,Value...] (tag:Role=hpc-compute, tag-key=Scratch, resource-groups:Name=my-group), as hashtables @{Key='tag:Role'; Values='hpc-compute'}, or as AWS.Tools Target objects."),
    "InputObject": ("PSObject", "The objects you pipe in. Each acts where it came from: an object with an InstanceId (S3Mount's fleet output, EC2 and SSM instance objects, EC2 Reservations) goes to that instance through SSM, one with a Root (listed from an image) to that image, anything else to this machine; -InstanceId, -Target or -Root on the command line decide instead. A string is a mount path."),
    "OutputS3Region": ("string", "The Region of -OutputS3BucketName, when it is not the Region SSM is called in."),
    "CloudWatchLogGroupName": ("string", "A CloudWatch Logs group SSM also sends the command output to (SendCommand CloudWatchOutputConfig)."),
    "Comment": ("string", "The SSM command's comment, at most 100 characters (default: S3Mount and the operation, such as 'S3Mount create'). It shows in the SSM console and in Get-SSMCommand."),
    "MaxConcurrency": ("string", "How many nodes run the command at once, N or N% (SSM MaxConcurrency)."),
    "MaxErrors": ("string", "How many node errors are tolerated before SSM starts no new nodes, N or N% (SSM MaxErrors; alias MaxError). Without it every node is tried (S3Mount sends 100%; SSM's own default is 0, which would stop at the first failed node)."),
    "TimeoutSeconds": ("int", "How long a node may take to receive the command, 30 to 2592000 seconds (SSM TimeoutSeconds, the delivery timeout; alias TimeoutSecond)."),
    "ExecutionTimeoutSeconds": ("int", "How long the script may run on each node, 1 to 172800 seconds (AWS-RunShellScript executionTimeout; SSM's default is 3600)."),
    "OutputS3BucketName": ("string", "An S3 bucket SSM writes the full command output to. SSM returns at most 2,500 characters per node with the invocation list and 24,000 with GetCommandInvocation; with this bucket a longer result is read back from S3."),
    "OutputS3KeyPrefix": ("string", "The key prefix for -OutputS3BucketName."),
    "ProfileName": ("string", "The AWS credentials profile to call SSM with (AWS.Tools: -ProfileName; aliases Profile, StoredCredentials, AWSProfileName). A profile that does not exist is an error, never a silent fallback."),
    "ProfileLocation": ("string", "The credentials file -ProfileName is read from."),
    "Credential": ("object", "An AWSCredentials object (as AWS.Tools cmdlets take) to call SSM with."),
    "AccessKey": ("string", "An AWS access key id (alias AK); give -SecretKey with it."),
    "SecretKey": ("string", "The AWS secret access key for -AccessKey (aliases SK, SecretAccessKey)."),
    "SessionToken": ("string", "The session token of temporary credentials (alias ST)."),
}
AWS_REGION = {
    "Region": ("string", "The AWS Region SSM is called in (alias RegionToCall). Without it: $StoredAWSRegion (Set-DefaultAWSRegion), the profile, AWS_REGION, instance metadata."),
    "EndpointUrl": ("string", "An SSM endpoint URL, for VPC endpoints or tests. When not given, the AWS SDKs' environment variables AWS_ENDPOINT_URL_SSM, then AWS_ENDPOINT_URL, name it (unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true); otherwise the Region's public SSM endpoint."),
}
SELECT = {
    "Name": ("string[]", "Service names, mountpoint-s3-17a82347 or mountpoint-s3-17a82347.service, as Get-S3MountService lists them. Binds by property name from S3Mount's output. Tab completion offers this machine's units."),
    "Path": ("string[]", "Mount paths on the node (absolute): selects the services that mount there. Binds by property name (alias FullName, so Get-Item results bind); a piped string is a path too. Tab completion offers the mount paths of this machine, or of the image -Root names."),
}

OPTIONS = [
    ("BucketRegion", "string", "--region: the bucket's AWS Region, which mount-s3 uses on the node (default there: AWS_REGION, then instance metadata). Not the Region SSM is called in: that is -Region, on every S3Mount cmdlet."),
    ("S3EndpointUrl", "string", "--endpoint-url: the S3 endpoint URL mount-s3 uses on the node (an absolute http:// or https:// URL). Not the SSM endpoint: that is -EndpointUrl."),
    ("ForcePathStyle", "switch", "--force-path-style: path-style bucket addressing."),
    ("TransferAcceleration", "switch", "--transfer-acceleration: use S3 Transfer Acceleration (the bucket must have it enabled)."),
    ("DualStack", "switch", "--dual-stack: IPv4/IPv6 dual-stack endpoints."),
    ("RequesterPays", "switch", "--requester-pays: the requester pays for requests and transfer."),
    ("BucketType", "string", "--bucket-type: general-purpose or directory (default: inferred from the name)."),
    ("StorageClass", "string", "--storage-class: the storage class of new objects, such as STANDARD or INTELLIGENT_TIERING."),
    ("ExpectedBucketOwner", "string", "--expected-bucket-owner: the 12-digit account id that must own the bucket."),
    ("Sse", "string", "--sse: server-side encryption of new objects: aws:kms, aws:kms:dsse or AES256."),
    ("SseKmsKeyId", "string", "--sse-kms-key-id: the KMS key ARN; needs -Sse aws:kms or aws:kms:dsse."),
    ("UploadChecksums", "string", "--upload-checksums: crc32c (default), crc64nvme (mount-s3 1.23+) or off (1.7+)."),
    ("InferContentType", "switch", "--infer-content-type: set Content-Type from the file extension (mount-s3 1.23+)."),
    ("NoSignRequest", "switch", "--no-sign-request: load no credentials (public buckets)."),
    ("S3Profile", "string", "--profile: the AWS profile mount-s3 reads on the node. Not the profile this cmdlet calls SSM with: that is -ProfileName (alias Profile)."),
    ("CaBundle", "string", "--ca-bundle: a CA certificate bundle file on the node (mount-s3 1.23+)."),
    ("Bind", "string[]", "--bind: network interfaces to use, one per value (mount-s3 1.9+)."),
    ("UserAgentPrefix", "string", "--user-agent-prefix: a prefix for the S3 User-Agent."),
    ("ReadOnly", "switch", "--read-only: mount read-only. Refused with -AllowDelete, -AllowOverwrite or -IncrementalUpload."),
    ("AllowDelete", "switch", "--allow-delete: allow deleting files."),
    ("AllowOverwrite", "switch", "--allow-overwrite: allow overwriting files (mount-s3 1.4+)."),
    ("IncrementalUpload", "switch", "--incremental-upload: append to objects (S3 Express One Zone directory buckets; mount-s3 1.12+)."),
    ("AutoUnmount", "switch", "--auto-unmount: unmount when the process exits."),
    ("AllowRoot", "switch", "--allow-root: let root use the mount too. Excludes -AllowOther."),
    ("AllowOther", "switch", "--allow-other: let every user use the mount. For a non-root -User, S3Mount adds user_allow_other to /etc/fuse.conf once."),
    ("Uid", "long", "--uid: the owner id of files and directories (1 or more)."),
    ("Gid", "long", "--gid: the group id of files and directories (1 or more)."),
    ("DirMode", "string", "--dir-mode: directory permissions, octal, at most 0777 (default 0755)."),
    ("FileMode", "string", "--file-mode: file permissions, octal, at most 0777 (default 0644)."),
    ("MaximumThroughputGbps", "int", "--maximum-throughput-gbps: the throughput target in Gbit/s."),
    ("MaxThreads", "int", "--max-threads: FUSE threads (default 16)."),
    ("PartSize", "long", "--part-size: the part size of GET and PUT in bytes (5 MiB to 5 GiB). Excludes -ReadPartSize and -WritePartSize."),
    ("ReadPartSize", "long", "--read-part-size: the GET part size in bytes (mount-s3 1.8+)."),
    ("WritePartSize", "long", "--write-part-size: the PUT part size in bytes (mount-s3 1.8+)."),
    ("MemoryTargetMiB", "long", "--memory-target: the memory target in MiB, 512 or more (mount-s3 1.24+)."),
    ("LogDirectory", "string", "--log-directory: write logs to this directory instead of the journal."),
    ("LogMetrics", "switch", "--log-metrics: log metrics."),
    ("OtlpEndpoint", "string", "--otlp-endpoint: export metrics to this OpenTelemetry endpoint (mount-s3 1.21+)."),
    ("OtlpExportInterval", "int", "--otlp-export-interval: seconds between exports; needs -OtlpEndpoint."),
    ("DebugLogging", "switch", "--debug: debug logging (named so it does not clash with the common -Debug parameter)."),
    ("DebugCrt", "switch", "--debug-crt: debug logging of the AWS Common Runtime."),
    ("NoLog", "switch", "--no-log: no logging. Excludes -LogDirectory, -DebugLogging, -DebugCrt and -LogMetrics."),
    ("CacheDirectory", "string", "--cache: the local data cache directory of this mount (mount-s3 wipes it at mount and exit, so each mount needs its own). Created owned by the service user, mode 0700."),
    ("MaxCacheSizeMiB", "long", "--max-cache-size: the cache size cap in MiB; needs -CacheDirectory."),
    ("MetadataTtl", "string", "--metadata-ttl: seconds, indefinite or minimal (mount-s3 1.7+)."),
    ("NegativeMetadataTtl", "string", "--negative-metadata-ttl: seconds, indefinite or minimal (mount-s3 1.15+)."),
    ("CacheExpressBucket", "string", "--cache-xz: an S3 Express One Zone directory bucket used as a shared cache (mount-s3 1.11+)."),
]

NODE_NOTE = "Modes (parameter sets): this machine (it needs root and systemd for changes), -Root (an offline image on this machine), -InstanceId or -Target (EC2 nodes through SSM Run Command, running the same script); the SSM parameters exist only in the two fleet modes."

CMDLETS = []

def cmd(name, synopsis, description, params, examples, outputs, inputs="System.String[] (InstanceId, Name, Path by property name)"):
    CMDLETS.append(dict(name=name, synopsis=synopsis, description=description, params=params, examples=examples, outputs=outputs, inputs=inputs))

def merge(*dicts):
    out = {}
    for d in dicts:
        out.update(d)
    return out

SERVICE = merge(SELECT, FLEET, AWS_REGION)

MOUNT_FIELDS = merge({
        "Bucket": ("string", "The bucket: a name, a directory bucket (name--zone--x-s3), an access point alias or ARN, or s3://bucket/prefix/. Binds by property name."),
        "Path": ("string", "The mount directory: absolute, not under system directories (/etc, /usr, /proc, /var/lib, ...). Trailing and repeated slashes are normalised. Binds by property name."),
        "Prefix": ("string", "--prefix: mount only keys under this prefix; it ends with /. Not together with an s3:// URI that has a prefix."),
        "User": ("string", "The user the service runs as (User=); root when not given. Must exist on the node. Binds by property name."),
        "Group": ("string", "The group the service runs as (Group=); the user's primary group when not given. Binds by property name."),
    }, {o[0]: (o[1], o[2]) for o in OPTIONS}, {
        "ExtraArgument": ("string[]", "mount-s3 options S3Mount does not model, each --name or --name=value. Modelled options, positional words and separate values are refused (S3MountExtraArgumentInvalid); the node checks each name against its own mount-s3 --help."),
        "Environment": ("string[]", "Environment entries for the service, each NAME=value (for example AWS_CONFIG_FILE=/etc/s3/config or HTTPS_PROXY=...)."),
        "Option": ("MountOptions", "The mount-s3 options of an existing mount, as the Options property of Get-S3MountService output (alias Options; binds by property name): the base every option parameter given here overrides, so Get-S3MountService | New-S3MountService -Force keeps every option and changes only what you pass."),
    })

cmd("New-S3MountService",
    "Creates a persistent mount of an S3 bucket as a systemd service.",
    "Validates the bucket, path and every mount-s3 option before anything is written (stable error ids such as S3MountPathInvalid, S3MountOptionConflict), then on the node: refuses a path another bucket or something else already uses (S3MountPathInUse); checks that the node's mount-s3 supports every option (S3MountOptionUnsupported); creates the directory owned by the service user with mode 0755; creates the cache directory; adds user_allow_other to /etc/fuse.conf only when the options need it; writes the unit atomically (SELinux label restored); daemon-reload, enable and start; waits until the mount answers. If the start fails, the error carries the journal's last lines and the node is rolled back to exactly its previous state. Applying the same settings again changes nothing (Changed is False); other settings for an existing mount need -Force. A unit the field recipe made for the same bucket and path is adopted under its name (with -Force). With -Root it writes into an offline image instead (for AMI and chroot builds). " + NODE_NOTE,
    merge(MOUNT_FIELDS, {
        "NoStart": ("switch", "Write and enable the unit without starting it."),
        "NoEnable": ("switch", "Do not enable the unit (it will not mount at boot)."),
        "Force": ("switch", "Replace a service that has other settings, or adopt a recipe-made unit; the mount restarts. Also skips confirmation (never -WhatIf)."),
        "KeepOnFailure": ("switch", "When the start fails, keep the new unit for inspection instead of rolling back."),
        "HealthCheckIntervalSeconds": ("int", "Seconds between health checks of the mount, 10 to 86400; 0 turns them off. Default 30. A timer (s3mount-health-<id>.timer) runs the same bounded probe as Test-S3MountService and restarts the service when the mount is Stale, Hung or missing while the service is active, on 3 tries 1 s apart (a mount that is merely slow answers one and is left alone). The interval is recorded in the unit (HealthCheckIntervalSeconds in Get-S3MountService and Test-S3MountService); Remove-S3MountService removes the timer with the mount."),
        "Root": ("string", "An offline image root on this machine (resolved like New-Item resolves paths: relative to the current location, ~, PSDrives; it must exist): write the unit, its remote-fs.target.wants link, the health check (timer, service, program) and the directory into it, resolving users from the image's passwd and every path inside the image as a chroot would (a link never leads out of it); nothing is started. Needs no systemd and no AWS."),
        "SkipBucketCheck": ("switch", "Send the mount to the nodes without first checking, with your own credentials, that the bucket exists and is in the Region mount-s3 will use (HeadBucket, addressed like the nodes' mount-s3: its -BucketRegion, -S3EndpointUrl, path style, dual-stack). Without it, a bucket that does not exist (S3MountBucketNotFound), that your credentials may not read (S3MountBucketAccessDenied), or that is not in the -BucketRegion given (S3MountBucketRegionMismatch) is refused before anything is sent. For admins who may not read the bucket themselves."),
    }, FLEET, AWS_REGION),
    [
        ("New-S3MountService -Bucket genomics-ref -Path /fsx/ref -ReadOnly -AllowOther -User ec2-user", "Mounts the bucket read-only at /fsx/ref on this machine, as ec2-user, visible to every user."),
        ("Get-EC2Instance -Filter @{Name='tag:Role';Values='hpc-compute'} | Select-Object -ExpandProperty Instances |\n    New-S3MountService -Bucket s3://results/run-42/ -Path /mnt/results -AllowDelete -CacheDirectory /mnt/nvme/s3cache -Region us-east-1", "Creates the same mount on every compute node of a fleet through SSM: one batched command per 50 nodes; one S3MountService object per node as it finishes."),
        ("New-S3MountService -InstanceId i-0123456789abcdef0, i-0fedcba9876543210 -Bucket my-bucket -Path /mnt/s3 -ReadOnly -WhatIf", "Shows what would be created on two nodes; nothing is sent to SSM."),
        ("New-S3MountService -Root /mnt/image -Bucket my-bucket -Path /mnt/s3 -ReadOnly", "Writes the unit and its enable link into an image being built (AMI, chroot): no systemd and no AWS needed."),
        ("New-S3MountService -Bucket scratch-bucket -Path /mnt/scratch -HealthCheckIntervalSeconds 120", "Checks the mount every two minutes instead of every 30 s (0 would turn the check off)."),
    ],
    ["S3Mount.S3MountService"], inputs="System.String[] (InstanceId, Bucket, Path, Prefix by property name)")

cmd("Get-S3MountService",
    "Lists mount services with their state and health.",
    "Lists every mountpoint-s3-*.service in /etc/systemd/system and /usr/lib/systemd/system, S3Mount's own and those the field recipe made, with bucket, prefix, path, options, user, group, unit path, active and sub state, enabled, mounted, health (Healthy, NotMounted, Stale, Hung, Failed) and origin. One script run per node: one systemctl show for all units. Warnings list the defects of recipe-made units. Reading needs no root. " + NODE_NOTE,
    merge(SELECT, {
        "Bucket": ("string[]", "Only services of these buckets (wildcards allowed)."),
        "Root": ("string", "List the units of an offline image root on this machine (resolved like New-Item resolves paths; it must exist) instead of this machine. The objects carry Root, so piping them on acts in that image."),
    }, FLEET, AWS_REGION),
    [
        ("Get-S3MountService", "Lists the mount services of this machine."),
        ("Get-S3MountService -InstanceId $ids | Where-Object Health -ne Healthy | Repair-S3MountService", "Finds unhealthy mounts across a fleet and repairs each on its own node (InstanceId and Name bind by property name)."),
        ("Get-S3MountService -Target 'tag:Cluster=pcluster-1' -Bucket 'genomics-*' | Format-Table", "Lists the genomics mounts of every node tagged Cluster=pcluster-1."),
    ],
    ["S3Mount.S3MountService"])

cmd("Remove-S3MountService",
    "Removes mount services.",
    "Stops and disables each service, makes sure nothing is mounted at its path (a mount still there is lazily unmounted only with -LazyUnmount; otherwise the unit is kept and an S3MountStillMounted error is written), deletes the unit and its drop-ins, and reloads systemd. The directory is removed only with -RemoveDirectory and only if empty; /etc/fuse.conf is left alone. High impact: asks for confirmation unless -Confirm:$false or -Force. " + NODE_NOTE,
    merge(SELECT, {
        "Force": ("switch", "Skip confirmation (never -WhatIf)."),
        "LazyUnmount": ("switch", "When the mount is still there after the service stopped (something holds it busy), detach it lazily (umount -l) and remove the unit; without it the unit is kept and an S3MountStillMounted error is written."),
        "RemoveDirectory": ("switch", "Also remove the mount directory when it is empty."),
        "Root": ("string", "Remove from an offline image root on this machine (resolved like New-Item resolves paths; it must exist) instead of this machine. Objects listed with -Root carry it, so piped they go back to their image."),
    }, FLEET, AWS_REGION),
    [
        ("Remove-S3MountService -Path /mnt/s3 -RemoveDirectory", "Removes the service that mounts /mnt/s3 on this machine, and the empty directory."),
        ("Get-S3MountService -InstanceId $ids -Bucket old-bucket | Remove-S3MountService -Confirm:$false", "Removes the old bucket's mounts from every node that has one."),
    ],
    ["None"])

MAP = {
    "MapPath": ("string", "A mount map file (.psd1, alias MapFile), resolved like other PowerShell paths: @{ Defaults = @{ User = 'ec2-user' }; Mounts = @( @{ Bucket = 'genomics-ref'; Path = '/fsx/ref'; ReadOnly = $true }, ... ) }. Each mount's keys are New-S3MountService's parameter names; Defaults (optional) gives fields every mount has unless it says otherwise. The file is parsed, never run: only hashtables, arrays, quoted strings, numbers, $true, $false and $null are accepted, and anything that would run (a command, &, $(...), a variable, a script block, a cast) is refused with its file, line and column (S3MountMapExecutable). The whole map is validated before any node is touched: unknown keys, wrong types, invalid mounts (the New-S3MountService rules), a path given twice (S3MountMapDuplicatePath), two buckets on one path (S3MountMapPathConflict), a path inside another mapped path (S3MountMapNested); every problem is listed in one S3MountMapInvalid error."),
    "InputObject": ("PSObject", "The mounts of the map from the pipeline instead of a file: objects whose properties are New-S3MountService's parameter names ([pscustomobject]@{ Bucket = 'b'; Path = '/mnt/b'; AllowDelete = $true }, or hashtables), or Get-S3MountService output (each object's mount, options included), so a good node's mounts are a map. Every piped object together is the map; a PSCustomObject or hashtable with a property that is not a field is refused. The nodes come from -InstanceId, -Target or -Root on the command line, never from the piped objects."),
    "Root": ("string", "An offline image root to hold against the map instead of this machine (units, enable links and directories in the image; nothing is started)."),
}

cmd("Compare-S3MountService",
    "Reports how nodes differ from a mount map.",
    "Reads the map (a .psd1 file with -MapPath, or piped mounts), validates all of it, then sends one script to every node (one SSM command per 50 nodes) and reports, per node and mapped mount: InSync (S3Mount's unit is there exactly as mapped, enabled and running), Missing (nothing mounts the path, or only an S3Mount unit the map does not have: Sync -Prune replaces it), Drifted (S3Mount's unit for the bucket and path has other settings, or is not enabled or running; Differences lists each field that differs with its old and new value), Foreign (a unit S3Mount did not write, the field recipe's or a hand-made one, mounts the path: Sync leaves it alone unless -Adopt); and per S3Mount unit the map does not have: Extra. Changes nothing on the nodes (reading needs no root). One object per node and mount, so | Where-Object State -ne InSync and | Group-Object State are the fleet report; a summary line follows on the information stream. " + NODE_NOTE,
    merge(MAP, FLEET, AWS_REGION),
    [
        ("Compare-S3MountService -MapPath ./compute.psd1", "Reports how this machine differs from the map in compute.psd1."),
        ("Compare-S3MountService ./compute.psd1 -Target 'tag:Role=hpc-compute' | Where-Object State -ne InSync", "Lists, across every compute node, each mount that is missing, drifted, extra or foreign, with what differs."),
        ("Get-S3MountService -InstanceId i-0123456789abcdef0 | Compare-S3MountService -InstanceId $others", "Uses a good node's mounts as the map and reports how the other nodes differ from it."),
    ],
    ["S3Mount.S3MountDrift"], inputs="System.Management.Automation.PSObject (the mounts of the map)")

cmd("Sync-S3MountService",
    "Makes nodes have exactly the mounts of a mount map.",
    "Reads and validates the whole map (see Compare-S3MountService), then sends one script per node (the same for every node: one SSM command per 50 nodes) that works out the node's plan where it runs and carries it out: creates Missing mounts, updates Drifted ones (only those restart), leaves InSync ones untouched (Changed is False, no restart), removes Extra ones only with -Prune (first, so their paths are free), and takes over Foreign units only with -Adopt. Each mount changes on its own: one whose change fails is rolled back to exactly its previous state and reported (Action Failed, with a non-terminating error carrying its own id), and the node's other mounts still converge. With -WhatIf the nodes make the plan and change nothing: each change they would make is a What if line. Writes one object per node and mount with the Action taken (InSync, Created, Updated, Adopted, Removed, Kept, Failed), so | Where-Object Action -ne InSync and | Group-Object Action are the fleet report; a summary line follows on the information stream. Confirms once per node. " + NODE_NOTE,
    merge(MAP, {
        "Prune": ("switch", "Also remove S3Mount's mounts that the map does not have (stopped, disabled, unit deleted; their directories stay). Without it they are reported with Action Kept."),
        "Adopt": ("switch", "Take over units that S3Mount did not write (the field recipe's) for a mapped bucket and path, under their own name and location (the unit is rewritten and the mount restarts). A foreign unit that mounts another bucket at a mapped path is never replaced: that mount fails with S3MountPathInUse. Without -Adopt foreign units are reported with Action Kept."),
    }, FLEET, AWS_REGION),
    [
        ("Sync-S3MountService ./compute.psd1 -InstanceId $ids -WhatIf", "Shows, node by node, what the nodes would create, update, adopt and remove; nothing is changed."),
        ("Sync-S3MountService ./compute.psd1 -Target 'tag:Role=hpc-compute' -Prune | Group-Object Action", "Makes every compute node have exactly the mounts of the map, removing S3Mount mounts it does not have, and counts what was done."),
        ("Sync-S3MountService -MapPath ./image.psd1 -Root /mnt/image", "Writes the map's units, enable links and directories into an image being built; nothing is started."),
    ],
    ["S3Mount.S3MountSyncResult"], inputs="System.Management.Automation.PSObject (the mounts of the map)")

for verb, syn, desc, ex_local, ex_fleet in [
    ("Start", "Starts mount services.", "Starts each service (after resetting a failed state) and waits until the mount answers; a start that does not mount gives an S3MountStartFailed error with the journal's last lines.", "Start-S3MountService -Name mountpoint-s3-17a82347", "Get-S3MountService -InstanceId $ids | Where-Object ActiveState -ne active | Start-S3MountService"),
    ("Stop", "Stops mount services.", "Stops each service; mount-s3 unmounts itself, and the unit's ExecStopPost lazily unmounts a mount a dead daemon left.", "Stop-S3MountService -Path /mnt/s3", "Stop-S3MountService -Target 'tag:Role=hpc-compute' -Path /scratch/s3"),
    ("Restart", "Restarts mount services.", "Restarts each service and waits until the mount answers.", "Restart-S3MountService -Name mountpoint-s3-17a82347 -PassThru", "Get-S3MountService -InstanceId $ids | Restart-S3MountService"),
    ("Enable", "Enables mount services at boot.", "Enables each service, so it mounts at boot (it is wanted by remote-fs.target).", "Enable-S3MountService -Path /mnt/s3", "Enable-S3MountService -InstanceId i-0123456789abcdef0 -Path /mnt/s3"),
    ("Disable", "Disables mount services at boot.", "Disables each service, so it no longer mounts at boot; a running mount stays until it is stopped.", "Disable-S3MountService -Path /mnt/s3", "Get-S3MountService -Target 'tag:Env=dev' | Disable-S3MountService"),
]:
    cmd(verb + "-S3MountService", syn, desc + " Per-service failures are non-terminating errors. " + NODE_NOTE,
        merge(SELECT, {"PassThru": ("switch", "Write each service, with its state and health after the action.")},
              {"Root": ("string", f"{verb} the unit in an offline image root on this machine (its remote-fs.target.wants link; resolved like New-Item resolves paths; it must exist).")} if verb in ("Enable", "Disable") else {},
              FLEET, AWS_REGION),
        [(ex_local, "Acts on a service of this machine."), (ex_fleet, "Acts on services across a fleet through SSM, one batched command per group of nodes.")],
        ["S3Mount.S3MountService"])

cmd("Test-S3MountService",
    "Tests the health of mount services.",
    "Reports for each service: Healthy (mounted by mount-s3 and a stat of the path answers), NotMounted (stopped, starting, or active without a mount), Stale (the path answers 'Transport endpoint is not connected': the daemon died), Hung (a stat did not answer within 5 s) or Failed (the unit failed), with the reason. " + NODE_NOTE,
    merge(SELECT, {"Quiet": ("switch", "Return one Boolean: True when every selected service is healthy."),
                   "Root": ("string", "Test the units of an offline image root on this machine (nothing runs in an image, so every service is NotMounted; useful to check what an image will mount).")}, FLEET, AWS_REGION),
    [
        ("Test-S3MountService -Quiet", "True when every mount of this machine is healthy."),
        ("Test-S3MountService -InstanceId $ids | Where-Object Health -ne Healthy", "The unhealthy mounts of a fleet, with their reasons."),
    ],
    ["S3Mount.S3MountHealth", "System.Boolean"])

cmd("Repair-S3MountService",
    "Repairs Stale, NotMounted and Failed mounts.",
    "For each selected service (all when none is named) that is Stale, NotMounted or Failed: lazily unmounts the dead mount, resets the failed state, starts the service and waits for the mount; reports the health before and after. Healthy services are left alone; Hung mounts are repaired only with -IncludeHung (the daemon is killed). " + NODE_NOTE,
    merge(SELECT, {"Force": ("switch", "Skip confirmation (never -WhatIf)."),
                   "IncludeHung": ("switch", "Also repair Hung mounts: the daemon that does not answer is killed and the service started again.")}, FLEET, AWS_REGION),
    [
        ("Repair-S3MountService", "Repairs every broken mount of this machine."),
        ("Get-S3MountService -InstanceId $ids | Where-Object Health -ne Healthy | Repair-S3MountService", "Repairs the broken mounts of a fleet, each on its own node."),
    ],
    ["S3Mount.S3MountRepair"])


cmd("Install-MountpointS3",
    "Installs Mountpoint for Amazon S3 from a trusted, signature-checked package.",
    "The node works out its own package from /etc/os-release and uname -m: Amazon Linux 2 and 2023, RHEL, Rocky, Alma and CentOS Stream 8-9, Fedora, Ubuntu 20.04/22.04/24.04, Debian 11-12, SUSE and openSUSE, on x86_64 or aarch64 (arm64 in the release bucket); anything else is refused before anything is downloaded (S3MountOsUnsupported, S3MountArchitectureUnsupported). The package comes from the official release bucket (latest or -Version), an https URL, an s3:// object (presigned here for 30 minutes with your AWS credentials, so nodes need no S3 permission), a file on the node, or the Amazon Linux 2023 repository. Downloads fail on HTTP errors and retry transient ones. The detached .asc signature is verified with gpg against the pinned Mountpoint release keys; a package that does not verify is not installed (S3MountSignatureInvalid). apt installs are simulated first and refused when they would remove packages (S3MountInstallWouldRemove); package manager locks held by cloud-init or the SSM agent are retried. When the requested version is installed already nothing is downloaded (Changed is False); another version is installed only with -AllowVersionChange. " + NODE_NOTE,
    merge({
        "Version": ("string", "The release to install, such as 1.23.0, or latest (the default). Without -Version, a node that already has mount-s3 is left alone unless -AllowVersionChange is given."),
        "PackageUrl": ("string", "An https URL of the package; its signature is read from the same URL plus .asc."),
        "SignatureUrl": ("string", "The URL of the package's detached signature, when it is not the package URL plus .asc."),
        "PackageS3Uri": ("string", "An s3://bucket/key of the package (its signature is key.asc); presigned on this machine, so nodes need no S3 permission."),
        "PackagePath": ("string", "A package file. On this machine it is resolved like New-Item resolves paths (relative to the current location, ~, PSDrives); with -InstanceId or -Target it is an absolute path on the nodes. Its signature is the same path plus .asc."),
        "SignaturePath": ("string", "The signature file, when it is not the package path plus .asc (a local path, or an absolute node path on a fleet, as -PackagePath)."),
        "DistributionRepository": ("switch", "Amazon Linux 2023 only: install the distribution's mount-s3 package with dnf."),
        "ReleaseUrl": ("string", "A mirror of the official release bucket layout (latest/<arch>/mount-s3.<ext>, <version>/<arch>/mount-s3-<version>-<arch>.<ext>), for networks without internet access."),
        "KeysUrl": ("string", "Where the signing keys are read; by default the release bucket's public_keys/KEYS."),
        "AllowVersionChange": ("switch", "Install another version than the one installed: upgrade or downgrade."),
        "SkipSignatureCheck": ("switch", "Do not verify the package signature. A warning is written and recorded in the result; never needed for real packages."),
        "TrustedFingerprint": ("string[]", "Additional trusted signing key fingerprints (40 hex digits), for test or private packages."),
        "Root": ("string", "An offline image root on this machine (an AMI or chroot build; resolved like New-Item resolves paths; it must exist): the image's os-release decides the package, the signature is checked on this machine, and the image's own package manager installs it in a chroot. Needs root."),
    }, FLEET, AWS_REGION),
    [
        ("Install-MountpointS3 -Version 1.23.0", "Installs mount-s3 1.23.0 on this machine, or does nothing if it is installed already."),
        ("Get-EC2Instance -Filter @{Name='tag:Cluster';Values='pcluster-1'} | Select-Object -ExpandProperty Instances |\n    Install-MountpointS3 -Version 1.23.0 -AllowVersionChange -MaxErrors 5%", "Upgrades a whole cluster through SSM; nodes already on 1.23.0 report Changed False."),
        ("Install-MountpointS3 -InstanceId $ids -PackageS3Uri s3://my-artifacts/mount-s3/mount-s3-1.23.0-x86_64.deb", "Installs an internally mirrored package; the nodes download it through a presigned URL."),
    ],
    ["S3Mount.MountpointInstallation"], inputs="System.String[] (InstanceId by property name)")

cmd("Get-MountpointS3",
    "Reports the installed Mountpoint for Amazon S3 version.",
    "Reports the node (OS id and version, architecture, package format) and the installed mount-s3 (version, parsed from both the official 'mount-s3 1.23.0' and the distribution 'mount-s3 1.21.0+1.amzn2023' formats, binary path, package). Changes nothing and needs no root. " + NODE_NOTE,
    merge({"Root": ("string", "Report an offline image root on this machine instead (its os-release and the mount-s3 package in its package database; nothing of the image runs). Resolved like New-Item resolves paths; it must exist.")}, FLEET, AWS_REGION),
    [
        ("Get-MountpointS3", "The mount-s3 installed on this machine."),
        ("Get-MountpointS3 -InstanceId $ids | Where-Object InstalledVersion -lt '1.23.0' | Sort-Object InstalledVersion", "The nodes of a fleet that still run an older mount-s3, oldest first: versions compare and sort as versions."),
    ],
    ["S3Mount.MountpointInstallation"], inputs="System.String[] (InstanceId by property name)")

EXPORT_AWS = {
    "Region": ("string", "The AWS Region of the S3 calls this cmdlet makes: presigning -PackageS3Uri and uploading with -Upload (alias RegionToCall). Without it: $StoredAWSRegion, the profile, AWS_REGION, instance metadata."),
    "EndpointUrl": ("string", "An S3 endpoint URL for the presign and the upload (VPC endpoints, S3-compatible servers in tests; path-style addressing)."),
    "ProfileName": ("string", "The AWS credentials profile to presign and upload with (AWS.Tools: -ProfileName; aliases Profile, StoredCredentials, AWSProfileName). Only read when something is presigned or uploaded; the artifact never carries credentials."),
    "ProfileLocation": ("string", "The credentials file -ProfileName is read from."),
    "Credential": ("object", "An AWSCredentials object (as AWS.Tools cmdlets take) to presign and upload with."),
    "AccessKey": ("string", "An AWS access key id (alias AK); give -SecretKey with it."),
    "SecretKey": ("string", "The AWS secret access key for -AccessKey (aliases SK, SecretAccessKey)."),
    "SessionToken": ("string", "The session token of temporary credentials (alias ST). Presigned URLs made with them stop working when the session ends."),
}
EXPORT_OPTIONS = {o[0]: (o[1], o[2]) for o in OPTIONS}
EXPORT_OPTIONS["BucketRegion"] = ("string", "--region: the bucket's AWS Region, which mount-s3 uses on the node. Not -Region, which is where this cmdlet presigns and uploads.")
EXPORT_OPTIONS["S3EndpointUrl"] = ("string", "--endpoint-url: the S3 endpoint URL mount-s3 uses on the node. Not -EndpointUrl, the endpoint of this cmdlet's own S3 calls.")
EXPORT_OPTIONS["S3Profile"] = ("string", "--profile: the AWS profile mount-s3 reads on the node (the node's own config; the bootstrap carries no credentials). Not -ProfileName, which this cmdlet presigns and uploads with.")

cmd("Export-S3MountBootstrap",
    "Exports mount services as a bootstrap that a node runs when it boots: EC2 user data, cloud-config, MIME multi-part user data or a ParallelCluster custom action.",
    "Turns mounts into one self-contained POSIX sh script that a node runs as root at its first boot, with nobody there to run a cmdlet: an autoscaled compute node, an EKS node, a ParallelCluster node. The script is made of S3Mount's own node scripts, the ones Install-MountpointS3 and New-S3MountService run locally and through SSM (comments removed, each shared file carried once): an optional install step, then one create step per mount, each rebuilt on the node exactly as the engine composes it and run with /bin/sh as its own process. It needs no PowerShell and no .NET on the node, and running it again changes nothing. Its stdout is each step's result block, whole and in order; its diagnostics go to stderr and the journal (journalctl -t s3mount-bootstrap); it exits 0 when every mount is in place and 1 when a step failed, naming it (a failed install skips the mounts). "
    "Mounts come from the same parameters as New-S3MountService, or from the pipeline: any object whose properties are those parameter names (Get-S3MountService output from a node that is set up right: Bucket, Prefix, Path, User, Group, Options, ExtraArguments, Environment), or hashtables with those keys; several mounts make one bootstrap, and mount parameters on the command line override that field of every piped mount; -MapPath reads a mount map file as Sync-S3MountService does. The mounts are validated as a mount map (every problem listed with where it is; no path twice, no mount inside another): a refused mount refuses the export (S3MountMapInvalid) and nothing is written, since a node must not boot without it. Credentials in a mount's environment are refused (S3MountBootstrapSecretRefused). "
    "Formats: Shell (the script: plain #!/bin/sh user data, a ParallelCluster script, an image's first-boot unit); CloudConfig (#cloud-config that writes it to /var/lib/s3mount/bootstrap.sh and runs it once, with runcmd); Mime (multipart/mixed user data with the script as a part cloud-init runs; -MergeWith keeps every part of an existing document, such as the NodeConfig of an EKS AL2023 node, byte for byte); ParallelCluster (the script, for -ScriptUri, and the CustomActions: OnNodeConfigured: and Iam: S3Access: keys that run it and let the nodes read it and the mounted buckets). "
    "EC2 takes at most 16,384 bytes of user data: CloudConfig and Mime, and Shell with -Compress, are refused above that (S3MountUserDataTooLarge). -Compress gzips the document (cloud-init and nodeadm decompress gzip user data), which fits four mounts (sixteen as Shell or Mime) but no install step beside a mount. Larger bootstraps go where the nodes download them (-ScriptUri with -Upload or -ScriptOutFile): the Shell, CloudConfig and Mime user data is then a loader of 3-8 KB (sixteen mounts with an install step included) that downloads the script (s3://, signed with the instance role or AWS_* credentials in the node's environment; or https://), runs it only when its SHA-256 is the one pinned at export, keeps it at /var/lib/s3mount/bootstrap.sh and exits with its status. The artifact carries no credentials; a presigned URL only for -PackageS3Uri, with its expiry in a comment and a warning. The artifact goes to the pipeline as a string (base64 when compressed, as EC2's UserData parameter takes it) or, with -OutFile, to a file (-WhatIf and -Confirm apply to the file and the upload).",
    merge({
        "InputObject": ("PSObject[]", "Mounts from the pipeline, read as a mount map reads them: objects whose properties are this cmdlet's mount parameter names or their aliases (Options, ExtraArguments), such as Get-S3MountService output, or hashtables and PSCustomObjects with those keys (an unknown key is a problem: S3MountFieldUnknown)."),
        "MapPath": ("string", "A mount map file (.psd1, read as data, never run), as Sync-S3MountService takes it (alias MapFile): its mounts are the bootstrap's. Not together with piped mounts or mount parameters."),
        "Bucket": ("string", "The bucket of a mount given on the command line: a name, a directory bucket, an access point alias or ARN, or s3://bucket/prefix/. With piped mounts, overrides their bucket."),
        "Path": ("string", "The mount directory on the node (absolute; trailing and repeated slashes are normalised). With piped mounts, overrides their path."),
        "Prefix": ("string", "--prefix: mount only keys under this prefix; it ends with /."),
        "User": ("string", "The user the service runs as on the node (root when not given); it must exist there when the bootstrap runs."),
        "Group": ("string", "The group the service runs as (the user's primary group when not given)."),
        "Option": ("MountOptions", "The mount-s3 options of an existing mount (alias Options), as Get-S3MountService output carries them: the base that every option parameter given here overrides."),
    }, EXPORT_OPTIONS, {
        "ExtraArgument": ("string[]", "mount-s3 options S3Mount does not model, each --name or --name=value (alias ExtraArguments); the node checks each against its own mount-s3 --help."),
        "Environment": ("string[]", "Environment entries for the services, each NAME=value. AWS credentials are refused: user data is readable by every process on the instance."),
        "NoStart": ("switch", "Write and enable the units at bootstrap without starting them (they mount at the next boot)."),
        "NoEnable": ("switch", "Do not enable the units (they will not mount at later boots)."),
        "Force": ("switch", "On the node: replace a service that has other settings, or adopt a recipe-made unit for the same bucket and path (the mount restarts)."),
        "KeepOnFailure": ("switch", "On the node: keep a unit whose start fails at bootstrap, for inspection, instead of rolling it back."),
        "HealthCheckIntervalSeconds": ("int", "Seconds between the health checks of each mount, 10 to 86400; 0 turns them off. Default 30, as New-S3MountService -HealthCheckIntervalSeconds: each mount gets its health check timer at bootstrap (the check program travels in the create step, compacted)."),
        "Format": ("BootstrapFormat", "Shell (default), CloudConfig, Mime or ParallelCluster."),
        "Compress": ("switch", "Gzip the artifact: cloud-init (and nodeadm, for Mime) decompress gzip user data. The pipeline gets it base64-encoded, as EC2's UserData parameter takes it; -OutFile gets the bytes. Not with ParallelCluster."),
        "MergeWith": ("string", "Mime only: an existing user data document whose parts are kept byte for byte: a MIME multi-part document, or a single NodeConfig, shell script or cloud-config (which becomes a part). Text, or base64 (optionally of gzip) as EC2 returns user data."),
        "ScriptUri": ("string", "Where the nodes download the script from: s3://bucket/key (with -Upload to put it there now) or an https:// URL. ParallelCluster runs it from there. With Shell, CloudConfig and Mime the user data becomes a loader that downloads it, checks its SHA-256 and runs it: an s3:// download is signed for -Region (or $StoredAWSRegion, AWS_REGION) with the instance role, which needs s3:GetObject on it; with -EndpointUrl it goes to that endpoint, path-style."),
        "Upload": ("switch", "Upload the script to -ScriptUri (s3://) with your AWS credentials. Without it, give -OutFile (ParallelCluster) or -ScriptOutFile (a loader) and upload the file yourself."),
        "ScriptOutFile": ("string", "With -ScriptUri and Shell, CloudConfig or Mime: write the script the loader downloads to this file, for your own upload (it must reach -ScriptUri byte for byte: the loader refuses any other). Resolved like -OutFile; not the same file as -OutFile."),
        "OutFile": ("string", "Write the artifact to this file instead of the pipeline (ParallelCluster: the script; its configuration keys still go to the pipeline). Resolved like New-Item's paths: relative to the current location, ~, PowerShell drives. Written whole or not at all; an existing file is replaced."),
        "Install": ("switch", "Install Mountpoint first, from the official release bucket: the latest release, or -Version."),
        "Version": ("string", "Install this Mountpoint release first, such as 1.23.0 (from the release bucket, or the version the package given must hold). Without -AllowVersionChange, a node that has another version keeps it and the install step fails."),
        "ReleaseUrl": ("string", "Install first from a mirror of the official release bucket layout."),
        "PackageUrl": ("string", "Install first from this https URL; its signature is read from the same URL plus .asc."),
        "SignatureUrl": ("string", "The signature URL for -PackageUrl, when it is not the package URL plus .asc."),
        "PackageS3Uri": ("string", "Install first from this s3://bucket/key (and key.asc), presigned here for -PresignedUrlLifetime with your AWS credentials: the nodes need no S3 permission, but anyone who holds the artifact can download the package until the URLs expire (a warning and a comment in the script say until when)."),
        "PresignedUrlLifetime": ("TimeSpan", "How long the presigned URLs of -PackageS3Uri work, at most 7 days (for example (New-TimeSpan -Days 7)). Nodes that boot later cannot install from them: for long-lived launch templates use -ReleaseUrl or -PackageUrl."),
        "PackagePath": ("string", "Install first from a package file already on the node (baked into the image), with its .asc."),
        "SignaturePath": ("string", "The signature file on the node for -PackagePath, when it is not the package path plus .asc."),
        "DistributionRepository": ("switch", "Install first from the Amazon Linux 2023 repository with dnf."),
        "KeysUrl": ("string", "Where the install step reads the signing keys; by default the release bucket's public_keys/KEYS."),
        "AllowVersionChange": ("switch", "Let the install step replace another installed version (upgrade or downgrade)."),
        "SkipSignatureCheck": ("switch", "Do not verify the package signature in the install step (a warning is recorded on the node). Never needed for real packages."),
        "TrustedFingerprint": ("string[]", "Additional trusted signing key fingerprints (40 hex digits), for test or private packages."),
    }, EXPORT_AWS),
    [
        ("Export-S3MountBootstrap -Bucket genomics-ref -Path /fsx/ref -ReadOnly -AllowOther -Format CloudConfig -Compress", "A gzip-compressed #cloud-config for a launch template whose image has mount-s3: it mounts the bucket read-only at /fsx/ref on each instance's first boot. The string is base64, ready for the UserData of New-EC2LaunchTemplate or RunInstances."),
        ("Get-S3MountService -InstanceId i-0123456789abcdef0 | Export-S3MountBootstrap -Version 1.23.0 -Format CloudConfig -Compress -ScriptUri s3://cluster-assets/s3mount/boot.sh -Upload -Region us-east-1 -OutFile ./userdata.gz", "Make new nodes like this one: every mount of a node that is set up right, read through SSM, with an install step, is uploaded as the script, and the user data (about 3 KB) is the loader that downloads it with the instance role (aws ec2 run-instances --user-data fileb://userdata.gz)."),
        ("$nodeConfig = Get-Content -Raw ./nodeconfig.yaml\nExport-S3MountBootstrap -Bucket ml-datasets -Path /mnt/datasets -ReadOnly -AllowOther -Version 1.23.0 -Format Mime -MergeWith $nodeConfig -Compress", "User data for EKS AL2023 nodes: nodeadm reads the NodeConfig part, cloud-init runs the bootstrap before the kubelet starts."),
        ("Export-S3MountBootstrap -Bucket results -Path /shared/results -AllowDelete -User ec2-user -Version 1.23.0 -Format ParallelCluster -ScriptUri s3://cluster-assets/s3mount/compute.sh -Upload", "Uploads the script and prints the CustomActions / Iam keys to paste into the queue's section of the cluster configuration."),
        ("@{ Bucket = 'scratch'; Path = '/scratch/s3'; AllowDelete = $true }, @{ Bucket = 'refs'; Path = '/refs'; ReadOnly = $true } | Export-S3MountBootstrap -Install -OutFile ./first-boot.sh -WhatIf", "Two mounts from hashtables into one script; -WhatIf says what would be written and writes nothing."),
    ],
    ["System.String"], inputs="System.Management.Automation.PSObject (mounts: properties named like the mount parameters)")

cmd("Get-S3MountIamPolicy",
    "Writes the least-privilege IAM policy a node role needs for given mounts.",
    "Takes mounts as New-S3MountService takes them (the same parameters; or piped objects whose properties are those names, such as Get-S3MountService output from one node or a fleet; several at once) and writes the one identity policy their node role needs, and no more, following the permissions Mountpoint documents for each configuration (doc/CONFIGURATION.md, section IAM permissions and the sections of each option): s3:ListBucket on the bucket, with an s3:prefix condition when the mount has a prefix; s3:GetObject on bucket/prefix*; s3:PutObject and s3:AbortMultipartUpload only when the mount is not read-only; s3:DeleteObject only with -AllowDelete; access point ARNs (objects under /object/), Multi-Region and Outposts access points; s3express:CreateSession for directory buckets and the -CacheExpressBucket shared cache; kms:Decrypt (and kms:GenerateDataKey where the mount writes) on the -SseKmsKeyId key and on -KmsKeyArn keys; an aws:ResourceAccount condition with -ExpectedBucketOwner. Grants of all mounts are merged (a whole bucket covers its prefixes; equal conditions share a statement) and ordered the same way every time. A mount that cannot be scoped exactly (an access point alias without its Region and account, a directory bucket's session, which allows every operation on the bucket) gets a warning saying what is broader than it needs; nothing is ever widened silently. -Verbose lists every permission with the mount and the documentation section it comes from, and what the mounts need outside this policy (bucket policies of access points and requester-pays buckets). Needs no AWS credentials and calls nothing.",
    merge(MOUNT_FIELDS, {
        "Path": ("string", "The mount directory. Optional here: the policy does not depend on where a bucket is mounted. Binds by property name."),
        "User": ("string", "The user the service runs as. Does not change the policy (mount-s3 uses the node's credentials, whoever runs it). Binds by property name."),
        "HealthCheckIntervalSeconds": ("int", "Seconds between the mount's health checks (New-S3MountService -HealthCheckIntervalSeconds). Does not change the policy: the check only stats the mount path. Binds by property name."),
        "KmsKeyArn": ("string[]", "KMS keys that objects of this mount are encrypted with, which the mount's own options cannot name: the bucket's default SSE-KMS key, the shared cache bucket's key, keys of objects other writers made. Each gets kms:Decrypt, and kms:GenerateDataKey when the mount writes (not -ReadOnly, or with -CacheExpressBucket). Binds by property name, so each piped mount can carry its own."),
        "Partition": ("string", "The ARN partition (aws, aws-cn, aws-us-gov, ...) for buckets whose Region the mount does not give; a -BucketRegion such as cn-north-1 selects its own. Default aws."),
        "AsJson": ("switch", "Write the policy document as JSON text (what aws iam put-role-policy --policy-document and the console take) instead of an object."),
        "InputObject": ("PSObject", "The mounts you pipe in: objects whose properties are New-S3MountService's parameter names ([pscustomobject]@{ Bucket = 'b'; Prefix = 'p/'; ReadOnly = $true }), or Get-S3MountService output from this machine, an image or a fleet (each object's mount, its Options included). Each object is read on its own, as New-S3MountService reads it; parameters on the command line override that field of every object. A bad object is an error for that object only."),
    }),
    [
        ("Get-S3MountIamPolicy -Bucket s3://results/run-42/ -AllowDelete -AsJson", "The policy for one read-write mount of a prefix, with deletes: s3:ListBucket with an s3:prefix condition, object actions on results/run-42/*."),
        ("Get-S3MountService -InstanceId $ids | Get-S3MountIamPolicy -AsJson | Set-Content node-role-policy.json", "The one policy that covers every mount of a fleet, from the mounts the nodes really have."),
        ("Get-S3MountIamPolicy -Bucket genomics-ref -ReadOnly -Sse aws:kms -SseKmsKeyId arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab | ConvertTo-Json -Depth 6", "The policy as an object, converted to JSON by PowerShell: kms:Decrypt on the key, nothing to write."),
        ("@([pscustomobject]@{ Bucket = 'genomics-ref'; ReadOnly = $true }, [pscustomobject]@{ Bucket = 'results'; Prefix = 'run-42/'; AllowDelete = $true }) |\n    Get-S3MountIamPolicy -Verbose", "One policy for two mounts described by objects whose properties are parameter names; -Verbose gives the reason and documentation section of every permission."),
    ],
    ["S3Mount.S3MountIamPolicy", "System.String"], inputs="Objects with mount properties (Bucket, Prefix, Options, ... by property name), such as S3Mount.S3MountService")

cmd("Measure-S3MountThroughput",
    "Measures the throughput of mounts on this machine or a fleet.",
    "For each selected mount (-Name or -Path; Get-S3MountService output pipes in), on each node: in a directory of its own under the mount (s3mount-throughput-<uuid>), writes -FileCount files of -FileSize with -Parallelism workers (dd, fsync'd, so the upload is inside the time), drops the page cache where the node allows it (root, not in most containers), reads the first byte of each file (the first-byte latency), reads every file back with -Parallelism workers and compares it with what was written (cmp), then deletes exactly the files it wrote and its directory, never anything else (also when it is cancelled). Returns one object per node and mount: write and read MB/s (10^6 bytes per second, as dd counts), the median and largest first-byte time, whether the data read back was the data written, the errors. Output comes at the end, slowest first (by the lower of the write and read rates), with a bar per node against the fastest of the run. A read-only mount, or one without --allow-delete (the files could not be deleted again), is refused for writing (S3MountThroughputReadOnly, S3MountThroughputNoDelete): give -ReadPrefix to measure reads of existing files instead, which writes nothing. Refused too when /tmp has no room for one file of test data, or the mount's local cache directory no room for what is read (S3MountThroughputNoSpace). Every phase stops at -TimeLimitSeconds; what was done by then is reported, with a warning. The I/O runs as the mount's owner. On a fleet, one SSM command goes to every 50 nodes, all at once (MaxConcurrency 100% unless given), and every node starts at the same agreed second a few seconds after the commands are sent (each result says how late a node was); the run does not hold the node lock, so changes and repairs of the node are not blocked while it measures. Data-read mismatches are errors (S3MountThroughputMismatch); other errors and time-outs are warnings, and every error is in the object. " + NODE_NOTE,
    merge(SELECT, {
        "FileCount": ("int", "How many files to write and read back on each node (1 to 10000; default 8). With -ReadPrefix: at most how many existing files to read (the first by name)."),
        "FileSize": ("long", "The size of each file in bytes, 4KB to 5GB (default 64MB). PowerShell's 64MB, 1GB literals work. Ignored with -ReadPrefix."),
        "Parallelism": ("int", "How many files are written, and read, at once on each node (1 to 256; default 4; alias ThreadCount)."),
        "TimeLimitSeconds": ("int", "The longest the measurement may take on a node, 10 to 86400 seconds (default 600): no file is started after it and a transfer that runs into it is stopped; the clean-up still runs. Not SSM's -TimeoutSeconds (the delivery timeout); -ExecutionTimeoutSeconds defaults to this plus 300."),
        "ReadPrefix": ("string", "Read existing files in this directory of the mount, relative to the mount's root (datasets/ref/), instead of writing any: works on read-only mounts and needs no --allow-delete; nothing is written or deleted, and the content is checked by its length only."),
    }, FLEET, AWS_REGION),
    [
        ("Measure-S3MountThroughput -Path /mnt/results -FileCount 16 -FileSize 256MB -Parallelism 8", "Writes 16 files of 256 MiB, 8 at a time, through the mount at /mnt/results on this machine, reads them back, checks and deletes them."),
        ("Get-S3MountService -Target 'tag:Cluster=pcluster-1' -Path /fsx/scratch | Measure-S3MountThroughput -FileCount 32 -FileSize 1GB -Parallelism 16 -Confirm:$false", "Every node of a cluster at once, through SSM: one command per 50 nodes, all starting at the same second; the slowest node comes first."),
        ("Measure-S3MountThroughput -InstanceId $ids -Path /fsx/ref -ReadPrefix hg38/ -FileCount 8 | Format-List", "Measures reads of existing files on a read-only mount of a fleet; writes nothing."),
    ],
    ["S3Mount.S3MountThroughput"])

ONLINE = "https://github.com/s3mount/S3Mount/blob/main/README.md"


def metadata(root):
    """The compiled cmdlets' parameter sets and parameters, read from the built module by tools/cmdlet-metadata.ps1."""
    pwsh = os.environ.get("PWSH") or shutil.which("pwsh") or os.path.join(root, ".tools", "pwsh", "pwsh")
    out = subprocess.run([pwsh, "-NoProfile", "-NonInteractive", "-File", os.path.join(root, "tools", "cmdlet-metadata.ps1")],
                         check=True, capture_output=True, text=True).stdout
    return {c["name"]: c for c in json.loads(out)}


def pipeline(byvalue, byname):
    kinds = [k for k, on in (("ByValue", byvalue), ("ByPropertyName", byname)) if on]
    return "True (" + ", ".join(kinds) + ")" if kinds else "False"


def write(path, meta):
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           '<helpItems schema="maml" xmlns="http://msh">']
    missing = [c["name"] for c in CMDLETS if c["name"] not in meta] + [n for n in meta if n not in {c["name"] for c in CMDLETS}]
    if missing:
        raise SystemExit("helpgen: help text and compiled cmdlets differ: " + ", ".join(missing))
    for c in CMDLETS:
        m = meta[c["name"]]
        undescribed = [p["name"] for p in m["parameters"] if p["name"] not in c["params"]]
        extra = [p for p in c["params"] if p not in {q["name"] for q in m["parameters"]}]
        if undescribed or extra:
            raise SystemExit(f"helpgen: {c['name']}: no text for {undescribed}; text for parameters it does not have: {extra}")
        params = {p["name"]: p for p in m["parameters"]}
        # Per parameter, across its sets: mandatory in every set it belongs to, its position, how the pipeline binds it.
        info = {}
        for st in m["sets"]:
            for sp in st["parameters"]:
                i = info.setdefault(sp["name"], dict(mandatory=True, position=None, byvalue=False, byname=False))
                i["mandatory"] = i["mandatory"] and sp["mandatory"]
                if sp["position"] >= 0:
                    i["position"] = sp["position"]
                i["byvalue"] = i["byvalue"] or sp["fromPipeline"]
                i["byname"] = i["byname"] or sp["byPropertyName"]
        verb, noun = c["name"].split("-", 1)
        out.append('  <command:command xmlns:maml="http://schemas.microsoft.com/maml/2004/10" xmlns:command="http://schemas.microsoft.com/maml/dev/command/2004/10" xmlns:dev="http://schemas.microsoft.com/maml/dev/2004/10">')
        out.append('    <command:details>')
        out.append(f'      <command:name>{c["name"]}</command:name>')
        out.append(f'      <maml:description><maml:para>{escape(c["synopsis"])}</maml:para></maml:description>')
        out.append(f'      <command:verb>{verb}</command:verb>')
        out.append(f'      <command:noun>{noun}</command:noun>')
        out.append('    </command:details>')
        out.append(f'    <maml:description><maml:para>{escape(c["description"])}</maml:para></maml:description>')
        out.append('    <command:syntax>')
        for st in sorted(m["sets"], key=lambda x: not x["isDefault"]):
            out.append('      <command:syntaxItem>')
            out.append(f'        <maml:name>{c["name"]}</maml:name>')
            for sp in st["parameters"]:
                t = params[sp["name"]]["type"]
                pos = str(sp["position"]) if sp["position"] >= 0 else "named"
                out.append(f'        <command:parameter required="{str(sp["mandatory"]).lower()}" position="{pos}" pipelineInput="{pipeline(sp["fromPipeline"], sp["byPropertyName"])}"><maml:name>{sp["name"]}</maml:name>'
                           + ('' if t == "SwitchParameter" else f'<command:parameterValue required="true">{escape(t)}</command:parameterValue>') + '</command:parameter>')
            out.append('      </command:syntaxItem>')
        out.append('    </command:syntax>')
        out.append('    <command:parameters>')
        for p in m["parameters"]:
            name, t = p["name"], p["type"]
            i = info.get(name, dict(mandatory=False, position=None, byvalue=False, byname=False))
            aliases = ", ".join(p["aliases"]) if p["aliases"] else "none"
            pos = str(i["position"]) if i["position"] is not None else "named"
            out.append(f'      <command:parameter required="{str(i["mandatory"]).lower()}" position="{pos}" pipelineInput="{pipeline(i["byvalue"], i["byname"])}" globbing="{str(p["wildcards"]).lower()}" aliases="{escape(aliases)}">')
            out.append(f'        <maml:name>{name}</maml:name>')
            out.append(f'        <maml:description><maml:para>{escape(c["params"][name][1])}</maml:para></maml:description>')
            out.append(f'        <command:parameterValue required="{"false" if t == "SwitchParameter" else "true"}">{escape(t)}</command:parameterValue>')
            out.append(f'        <dev:type><maml:name>{escape(t)}</maml:name></dev:type>')
            out.append('      </command:parameter>')
        out.append('    </command:parameters>')
        out.append(f'    <command:inputTypes><command:inputType><dev:type><maml:name>{escape(c["inputs"])}</maml:name></dev:type></command:inputType></command:inputTypes>')
        out.append('    <command:returnValues>')
        for o in c["outputs"]:
            out.append(f'      <command:returnValue><dev:type><maml:name>{o}</maml:name></dev:type></command:returnValue>')
        out.append('    </command:returnValues>')
        out.append('    <command:examples>')
        for n, (code, remark) in enumerate(c["examples"], 1):
            out.append('      <command:example>')
            out.append(f'        <maml:title>-------------------------- Example {n} --------------------------</maml:title>')
            out.append(f'        <dev:code>{escape(code)}</dev:code>')
            out.append(f'        <dev:remarks><maml:para>{escape(remark)}</maml:para></dev:remarks>')
            out.append('      </command:example>')
        out.append('    </command:examples>')
        out.append('    <command:relatedLinks>')
        out.append(f'      <maml:navigationLink><maml:linkText>Online Version:</maml:linkText><maml:uri>{ONLINE}</maml:uri></maml:navigationLink>')
        out.append('      <maml:navigationLink><maml:linkText>about_S3Mount</maml:linkText></maml:navigationLink>')
        out.append('    </command:relatedLinks>')
        out.append('  </command:command>')
    out.append('</helpItems>')
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")

if __name__ == "__main__":

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    write(os.path.join(root, "module", "en-US", "S3Mount.dll-Help.xml"), metadata(root))
