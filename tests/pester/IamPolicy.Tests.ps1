#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }

BeforeAll {
    . (Join-Path $PSScriptRoot 'Shared.ps1')
    Import-Module $ModuleManifest -Force -ErrorAction Stop

    function Get-Statements {
        # The statements of a policy object or JSON text, as "actions | resources[ | condition JSON]" lines.
        param($Policy)
        $doc = if ($Policy -is [string]) { $Policy | ConvertFrom-Json } else { $Policy | ConvertTo-Json -Depth 6 | ConvertFrom-Json }
        foreach ($s in $doc.Statement) {
            $line = ($s.Action -join ',') + ' | ' + ($s.Resource -join ',')
            if ($s.PSObject.Properties['Condition']) { $line += ' | ' + ($s.Condition | ConvertTo-Json -Depth 4 -Compress) }
            $line
        }
    }
}

AfterAll {
    Remove-Module S3Mount -ErrorAction SilentlyContinue
}

Describe 'Get-S3MountIamPolicy' {
    It 'takes exactly the mount parameters of New-S3MountService, with their types and aliases' {
        $new = (Get-Command New-S3MountService).Parameters
        $iam = (Get-Command Get-S3MountIamPolicy).Parameters
        $fields = 'Bucket', 'Path', 'Prefix', 'User', 'Group', 'ReadOnly', 'AllowDelete', 'AllowOverwrite', 'IncrementalUpload', 'Sse', 'SseKmsKeyId',
            'RequesterPays', 'ExpectedBucketOwner', 'BucketRegion', 'CacheExpressBucket', 'NoSignRequest', 'Option', 'ExtraArgument', 'Environment'
        foreach ($name in $fields) {
            $iam.ContainsKey($name) | Should -BeTrue -Because "-$name is a mount parameter"
            $iam[$name].ParameterType | Should -Be $new[$name].ParameterType
            @($iam[$name].Aliases) | Should -Be @($new[$name].Aliases)
        }
        # Every mount parameter of New-S3MountService (all but the node and AWS parameters every node cmdlet has, and
        # its own creation switches and its bucket check), and nothing else.
        $node = (Get-Command Get-MountpointS3).Parameters.Keys
        $mountParams = @($new.Keys | Where-Object { $_ -notin $node -and $_ -notin 'NoStart', 'NoEnable', 'Force', 'KeepOnFailure', 'SkipBucketCheck', 'WhatIf', 'Confirm' } | Sort-Object)
        $mountParams.Count | Should -BeGreaterThan 50
        @($iam.Keys | Where-Object { $_ -notin [System.Management.Automation.PSCmdlet]::CommonParameters -and $_ -notin [System.Management.Automation.PSCmdlet]::OptionalCommonParameters -and $_ -notin 'KmsKeyArn', 'Partition', 'AsJson', 'InputObject' } | Sort-Object) | Should -Be $mountParams
        $iam['Bucket'].Attributes.Where({ $_ -is [System.Management.Automation.ParameterAttribute] }).Mandatory | Should -Contain $true
        $iam['Path'].Attributes.Where({ $_ -is [System.Management.Automation.ParameterAttribute] }).Mandatory | Should -Not -Contain $true
    }

    It 'writes the least-privilege document for a read-write prefix mount with deletes' {
        $json = Get-S3MountIamPolicy -Bucket s3://results/run-42/ -AllowDelete -AsJson
        $json | Should -BeOfType [string]
        Get-Statements $json | Should -Be @(
            's3:ListBucket | arn:aws:s3:::results | {"StringLike":{"s3:prefix":["run-42/*"]}}'
            's3:GetObject,s3:PutObject,s3:AbortMultipartUpload,s3:DeleteObject | arn:aws:s3:::results/run-42/*'
        )
    }

    It 'gives an object whose ConvertTo-Json is exactly the -AsJson document' {
        $params = @{ Bucket = 'secure'; Prefix = 'p/'; Sse = 'aws:kms'; SseKmsKeyId = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'; ExpectedBucketOwner = '111122223333' }
        $object = Get-S3MountIamPolicy @params
        $object | Should -BeOfType [S3Mount.S3MountIamPolicy]
        ($object | ConvertTo-Json -Depth 6 -Compress) | Should -Be ((Get-S3MountIamPolicy @params -AsJson) | ConvertFrom-Json | ConvertTo-Json -Depth 6 -Compress)
        "$object" | Should -Be (Get-S3MountIamPolicy @params -AsJson)
        $object.Statement[0].PSObject.Properties.Name | Should -Be 'Sid', 'Effect', 'Action', 'Resource', 'Condition'
        $object.Statement[1].PSObject.Properties.Name | Should -Be 'Sid', 'Effect', 'Action', 'Resource', 'Condition'
        $object.Statement[2].PSObject.Properties.Name | Should -Be 'Sid', 'Effect', 'Action', 'Resource'
    }

    It 'grants per option what the Mountpoint documentation lists' -ForEach @(
        @{ Params = @{ Bucket = 'data'; ReadOnly = $true }; Expected = @('s3:ListBucket | arn:aws:s3:::data', 's3:GetObject | arn:aws:s3:::data/*') }
        @{ Params = @{ Bucket = 'data' }; Expected = @('s3:ListBucket | arn:aws:s3:::data', 's3:GetObject,s3:PutObject,s3:AbortMultipartUpload | arn:aws:s3:::data/*') }
        @{ Params = @{ Bucket = 'data'; AllowOverwrite = $true }; Expected = @('s3:ListBucket | arn:aws:s3:::data', 's3:GetObject,s3:PutObject,s3:AbortMultipartUpload | arn:aws:s3:::data/*') }
        @{ Params = @{ Bucket = 'data'; ReadOnly = $true; RequesterPays = $true }; Expected = @('s3:ListBucket | arn:aws:s3:::data', 's3:GetObject | arn:aws:s3:::data/*') }
        @{ Params = @{ Bucket = 'fast--usw2-az1--x-s3'; BucketRegion = 'us-west-2'; ExpectedBucketOwner = '111122223333'; IncrementalUpload = $true; AllowDelete = $true }; Expected = @('s3express:CreateSession | arn:aws:s3express:us-west-2:111122223333:bucket/fast--usw2-az1--x-s3') }
        @{ Params = @{ Bucket = 'arn:aws:s3:us-west-2:123456789012:accesspoint/reports-ap'; ReadOnly = $true }; Expected = @('s3:ListBucket | arn:aws:s3:us-west-2:123456789012:accesspoint/reports-ap', 's3:GetObject | arn:aws:s3:us-west-2:123456789012:accesspoint/reports-ap/object/*') }
        @{ Params = @{ Bucket = 'data'; ReadOnly = $true; Sse = 'aws:kms'; SseKmsKeyId = 'arn:aws:kms:us-east-1:111122223333:key/k1' }; Expected = @('s3:ListBucket | arn:aws:s3:::data', 's3:GetObject | arn:aws:s3:::data/*', 'kms:Decrypt | arn:aws:kms:us-east-1:111122223333:key/k1') }
        @{ Params = @{ Bucket = 'data'; ReadOnly = $true; CacheExpressBucket = 'cache--usw2-az1--x-s3'; BucketRegion = 'us-west-2'; ExpectedBucketOwner = '111122223333' }; Expected = @('s3:ListBucket | arn:aws:s3:::data | {"StringEquals":{"aws:ResourceAccount":["111122223333"]}}', 's3:GetObject | arn:aws:s3:::data/* | {"StringEquals":{"aws:ResourceAccount":["111122223333"]}}', 's3express:CreateSession | arn:aws:s3express:us-west-2:111122223333:bucket/cache--usw2-az1--x-s3') }
    ) {
        Get-Statements (Get-S3MountIamPolicy @Params -AsJson -WarningAction SilentlyContinue) | Should -Be $Expected
    }

    It 'says with a warning where it cannot scope a mount, and never widens silently' {
        $null = Get-S3MountIamPolicy -Bucket my-access-point-hrzrlukc5m36ft7okagglf3gmwluquse1b-s3alias -ReadOnly -WarningVariable w -WarningAction SilentlyContinue
        $w.Count | Should -Be 1
        "$w" | Should -Match 'any Region and any account'
        $null = Get-S3MountIamPolicy -Bucket my-access-point-hrzrlukc5m36ft7okagglf3gmwluquse1b-s3alias -ReadOnly -BucketRegion eu-west-1 -ExpectedBucketOwner 111122223333 -WarningVariable w2
        $w2.Count | Should -Be 0
    }

    It 'explains every permission with its documentation section on the verbose stream' {
        $verbose = Get-S3MountIamPolicy -Bucket data -AllowDelete -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $verbose.Message | Should -Contain 's3://data/: s3:DeleteObject on arn:aws:s3:::data/* - --allow-delete deletes objects (CONFIGURATION.md#general-purpose-buckets, CONFIGURATION.md#file-modifications-and-deletions)'
        @($verbose).Count | Should -Be 5
    }

    It 'writes one merged policy for several piped mounts, each bound on its own' {
        $mounts = @(
            [pscustomobject]@{ Bucket = 'ref'; ReadOnly = $true }
            [pscustomobject]@{ Bucket = 'results'; Prefix = 'run-1/'; AllowDelete = $true }
            [pscustomobject]@{ Bucket = 'results'; Prefix = 'run-2/' }
        )
        $policies = @($mounts | Get-S3MountIamPolicy)
        $policies.Count | Should -Be 1
        Get-Statements $policies[0] | Should -Be @(
            's3:ListBucket | arn:aws:s3:::ref'
            's3:ListBucket | arn:aws:s3:::results | {"StringLike":{"s3:prefix":["run-1/*","run-2/*"]}}'
            's3:GetObject | arn:aws:s3:::ref/*'
            's3:GetObject,s3:PutObject,s3:AbortMultipartUpload | arn:aws:s3:::results/run-2/*'
            's3:GetObject,s3:PutObject,s3:AbortMultipartUpload,s3:DeleteObject | arn:aws:s3:::results/run-1/*'
        )
    }

    It 'rebuilds each mount from Get-S3MountService output, options included' {
        $root = New-S3MountSandbox
        try {
            $null = New-S3MountService -Root $root -Bucket genomics-ref -Path /fsx/ref -ReadOnly -AllowOther -User ec2-user -Sse aws:kms -SseKmsKeyId arn:aws:kms:us-east-1:111122223333:key/k1 -Confirm:$false -WarningAction SilentlyContinue
            $null = New-S3MountService -Root $root -Bucket s3://results/run-42/ -Path /mnt/results -AllowDelete -Confirm:$false -WarningAction SilentlyContinue
            $listed = @(Get-S3MountService -Root $root -WarningAction SilentlyContinue)
            $listed.Count | Should -Be 2
            Get-Statements ($listed | Get-S3MountIamPolicy) | Should -Be @(
                's3:ListBucket | arn:aws:s3:::genomics-ref'
                's3:ListBucket | arn:aws:s3:::results | {"StringLike":{"s3:prefix":["run-42/*"]}}'
                's3:GetObject | arn:aws:s3:::genomics-ref/*'
                's3:GetObject,s3:PutObject,s3:AbortMultipartUpload,s3:DeleteObject | arn:aws:s3:::results/run-42/*'
                'kms:Decrypt | arn:aws:kms:us-east-1:111122223333:key/k1'
            )
            # A field given on the command line overrides that field of every piped mount.
            Get-Statements ($listed | Get-S3MountIamPolicy -ReadOnly -AllowDelete:$false) | Should -Not -Match 'PutObject|DeleteObject'
        }
        finally {
            Remove-Item -LiteralPath $root -Recurse -Force
        }
    }

    It 'gives a bad piped mount its own error and writes the policy for the others' {
        $mounts = @([pscustomobject]@{ Bucket = 'good-bucket'; ReadOnly = $true }, [pscustomobject]@{ Bucket = 'Bad_Bucket' }, [pscustomobject]@{ Bucket = 'data'; ReadOnly = $true; AllowDelete = $true })
        $policy = $mounts | Get-S3MountIamPolicy -ErrorVariable errs -ErrorAction SilentlyContinue
        @($errs).Count | Should -Be 2
        $errs.FullyQualifiedErrorId | Should -Be 'S3MountBucketInvalid,S3Mount.Commands.GetS3MountIamPolicyCommand', 'S3MountOptionConflict,S3Mount.Commands.GetS3MountIamPolicyCommand'
        $errs[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        Get-Statements $policy | Should -Be @('s3:ListBucket | arn:aws:s3:::good-bucket', 's3:GetObject | arn:aws:s3:::good-bucket/*')
    }

    It 'refuses a -KmsKeyArn that is not a KMS key ARN, for that mount' {
        $policy = Get-S3MountIamPolicy -Bucket data -KmsKeyArn alias/mine -ErrorVariable errs -ErrorAction SilentlyContinue
        $policy | Should -BeNullOrEmpty
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'S3MountOptionInvalid,*'
    }

    It 'shows the policy and its statements readably at 80 columns' {
        $policy = Get-S3MountIamPolicy -Bucket s3://results/run-42/ -AllowDelete -Sse aws:kms -SseKmsKeyId arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
        $table = ($policy | Out-String -Width 80) -split "`n"
        $table | Where-Object { $_.TrimEnd().Length -gt 80 } | Should -BeNullOrEmpty
        ($table -join "`n") | Should -Match '2012-10-17\s+3 s3:ListBucket'
        $statements = ($policy.Statement | Out-String -Width 80) -split "`n"
        $statements | Where-Object { $_.TrimEnd().Length -gt 80 } | Should -BeNullOrEmpty
        $statements[1] | Should -Match '^Sid\s+Action\s+Resource'
        ($statements -join "`n") | Should -Match 'MountpointKmsEncryptDecrypt kms:Decrypt'
        ($statements -join "`n") | Should -Match '\n\s+  s3:prefix like run-42/\*'
    }

    It 'runs the README''s commands as written (the fleet line against sandbox nodes behind the fake SSM)' -Skip:(-not $IsLinux) {
        . (Join-Path $PSScriptRoot 'ReadmeBlocks.ps1')
        $block = @(Get-ReadmeBlock | Where-Object Kind -EQ 'iam')
        $block.Count | Should -Be 1
        $fake = Start-FakeSsm -Nodes 2 -Offline 0
        $dir = Join-Path ([System.IO.Path]::GetTempPath()) ('s3mount-iam-' + [guid]::NewGuid().ToString('N'))
        $null = New-Item -ItemType Directory -Path $dir
        Push-Location $dir
        try {
            $aws = @{ EndpointUrl = $fake.Endpoint; Region = $fake.Region; AccessKey = $fake.AccessKey; SecretKey = $fake.SecretKey }
            $ids = $fake.Instances
            $user = [System.Environment]::UserName
            # The nodes' mounts (the set-up, not the README: no S3 to check these buckets against).
            $null = New-S3MountService -InstanceId $ids -Bucket genomics-ref -Path /fsx/ref -ReadOnly -User $user @aws -SkipBucketCheck -Confirm:$false -ErrorAction Stop
            $null = New-S3MountService -InstanceId $ids[0] -Bucket s3://results/run-42/ -Path /mnt/results -AllowDelete -User $user @aws -SkipBucketCheck -Confirm:$false -ErrorAction Stop
            foreach ($k in $aws.Keys) { $PSDefaultParameterValues["Get-S3MountService:$k"] = $aws[$k] }
            $out = @(. ([scriptblock]::Create($block[0].Code)) 2>&1 4>&1)
            @($out | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }) | Should -BeNullOrEmpty
            @($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Count | Should -Be 5
            Get-Statements (Get-Content -Raw node-role.json) | Should -Be @(
                's3:ListBucket | arn:aws:s3:::genomics-ref'
                's3:ListBucket | arn:aws:s3:::results | {"StringLike":{"s3:prefix":["run-42/*"]}}'
                's3:GetObject | arn:aws:s3:::genomics-ref/*'
                's3:GetObject,s3:PutObject,s3:AbortMultipartUpload,s3:DeleteObject | arn:aws:s3:::results/run-42/*'
            )
        }
        finally {
            Pop-Location
            $PSDefaultParameterValues.Clear()
            Remove-Item -LiteralPath $dir -Recurse -Force
            Stop-FakeSsm $fake
        }
    }
}
