FROM scratch
<script>&amp;$(reboot)`id` x
